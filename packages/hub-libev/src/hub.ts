import type {
  ConnectOptions,
  Datagram,
  Handle,
  Hub,
  HubOptions,
  HubStats,
  Listener,
  ListenOptions,
  SignalWatcher,
  Stream,
  Timer,
  UdpOptions,
} from '@greenhub/core';
import { hubClosedError, printError } from '@greenhub/core';
import { CallbackQueue } from './callbacks.js';
import { ConnectRequest } from './connect.js';
import type { Held, Owner } from './internal/owner.js';
import { LibevListener } from './listener.js';
import { addon } from './load-addon.js';
import { LibevSignal } from './signal.js';
import { LibevTimer } from './timer.js';
import { LibevDatagram } from './udp.js';

/** Options of the libev hub: the common {@link HubOptions}, plus a test-only switch. */
export interface LibevHubOptions extends HubOptions {
  /**
   * Test-only: re-open the "watcher_queue hole" (fds Node opened since
   * libuv's last poll are not yet in the epoll set libev waits on), to prove
   * the tests that check it can fail. Also set by `GREENHUB_LIBEV_NAIVE=1`.
   * Applies to the whole thread's loop. Never use it otherwise.
   */
  naive?: boolean;
}

/**
 * A hub whose loop is libev. All hubs of one thread share that thread's libev
 * loop; each hub owns its objects and closes them in {@link LibevHub.close}.
 */
export class LibevHub implements Hub, Owner {
  readonly name = 'libev';
  readonly backend: string = addon.backend;
  readonly #onError: (error: unknown, context: string) => void;
  /** Head of the list of objects close() must close: active watchers and open sockets. */
  #held: Held | undefined;
  readonly #callbacks: CallbackQueue;
  readonly #idleAtStart: number;
  #closed = false;
  #active = 0;
  #referenced = 0;
  #open = 0;

  constructor(options: LibevHubOptions = {}) {
    this.#onError = options.onError ?? printError;
    if (options.naive ?? process.env.GREENHUB_LIBEV_NAIVE === '1') addon.setNaive(true);
    this.#callbacks = new CallbackQueue(this);
    this.#idleAtStart = addon.idleTime();
  }

  get closed(): boolean {
    return this.#closed;
  }

  now(): number {
    this.throwIfClosed();
    return addon.now();
  }

  updateNow(): void {
    this.throwIfClosed();
    addon.updateNow();
  }

  callback(fn: () => void): Handle {
    this.throwIfClosed();
    return this.#callbacks.push(fn, 'callback', false);
  }

  timer(afterMs: number, repeatMs?: number): Timer {
    this.throwIfClosed();
    return new LibevTimer(this, afterMs, repeatMs);
  }

  signal(name: NodeJS.Signals): SignalWatcher {
    this.throwIfClosed();
    return new LibevSignal(this, name);
  }

  listen(opts: ListenOptions): Listener {
    this.throwIfClosed();
    return new LibevListener(this, opts);
  }

  connect(opts: ConnectOptions, cb: (err: Error | null, stream?: Stream) => void): Handle {
    this.throwIfClosed();
    return new ConnectRequest(this, opts, cb);
  }

  udp(opts: UdpOptions): Datagram {
    this.throwIfClosed();
    return new LibevDatagram(this, opts);
  }

  /**
   * Time in ms this hub's thread spent blocked in libev's poll since the hub
   * was created. Use it instead of `performance.eventLoopUtilization()`, which
   * reads 1.0 while the hub has active watchers: Node only counts time spent
   * blocked inside libuv's own poll, and under this hub the thread blocks in libev.
   */
  idleTime(): number {
    this.throwIfClosed();
    return addon.idleTime() - this.#idleAtStart;
  }

  stats(): HubStats {
    this.throwIfClosed();
    return { active: this.#active, referenced: this.#referenced, open: this.#open };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const objects: Held[] = [];
    for (let o = this.#held; o; o = o.heldNext) objects.push(o);
    for (const object of objects) object.close();
    for (const object of objects) this.drop(object);
    this.#callbacks.close();
  }

  toString(): string {
    return `Hub<libev ${this.backend}>`;
  }

  // Owner: what the hub's objects use.

  report(error: unknown, context: string): void {
    try {
      this.#onError(error, context);
    } catch (err) {
      printError(err, `onError (reporting ${context})`);
    }
  }

  complete(fn: () => void, context: string): void {
    if (this.#closed) {
      setImmediate(() => {
        try {
          fn();
        } catch (err) {
          this.report(err, context);
        }
      });
      return;
    }
    this.#callbacks.push(fn, context, true);
  }

  adjust(active: number, referenced: number, open: number): void {
    this.#active += active;
    this.#referenced += referenced;
    this.#open += open;
  }

  hold(object: Held): void {
    if (this.#closed || object.held) return;
    object.held = true;
    object.heldPrev = undefined;
    object.heldNext = this.#held;
    if (this.#held) this.#held.heldPrev = object;
    this.#held = object;
  }

  drop(object: Held): void {
    if (!object.held) return;
    object.held = false;
    const { heldPrev: prev, heldNext: next } = object;
    if (prev) prev.heldNext = next;
    else this.#held = next;
    if (next) next.heldPrev = prev;
    object.heldPrev = object.heldNext = undefined;
  }

  throwIfClosed(): void {
    if (this.#closed) throw hubClosedError();
  }
}

/**
 * Create a hub whose loop is libev (`name` 'libev', `backend` 'epoll').
 *
 * @param options `onError` receives every exception thrown by a callback the hub ran.
 * @returns a new hub on this thread's libev loop.
 * @throws an `ERR_HUB_UNAVAILABLE` error, at module load, when the native addon is missing.
 * @example
 * const hub = createHub();
 * const t = hub.timer(100);
 * t.start(() => { console.log('tick'); t.close(); });
 */
export function createHub(options?: LibevHubOptions): LibevHub {
  return new LibevHub(options);
}
