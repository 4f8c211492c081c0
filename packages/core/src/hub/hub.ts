/**
 * The hub contract: the one small interface every event loop implements.
 *
 * Everything above it (greenlets, primitives, sockets, servers) is written
 * once against these types, so a hub only has to keep the rules stated here.
 * `runHubConformance()` from `@greenhub/core/conformance` checks every rule.
 *
 * General rules every hub keeps:
 * - Times are milliseconds.
 * - Callbacks run in order of scheduling; a timer never fires early.
 * - An exception thrown by a callback is passed to {@link HubOptions.onError};
 *   it is never lost and never stops the loop.
 * - After an object's `close()`, none of its callbacks runs again.
 * - Long-lived *handles* (watchers, streams, listeners, datagrams) must be
 *   closed. One-shot *requests* (connect, write, shutdown, send) clean up after
 *   themselves and always call back exactly once — with an `ECANCELED` error if
 *   their handle was closed first.
 * - Referenced active handles keep the process alive; unreferenced ones do not;
 *   the process exits by itself when nothing referenced is left.
 * - Errors are `Error`s carrying Node's `code` strings (`ECONNREFUSED`,
 *   `ECONNRESET`, `EPIPE`, `EADDRINUSE`, `ETIMEDOUT`, `ECANCELED`, ...),
 *   identical on every hub.
 * - Node's own APIs (timers, fs, net, child_process, worker_threads, signals)
 *   keep working in the same process.
 */
import type { Datagram, UdpOptions } from './datagram.js';
import type { ConnectOptions, Listener, ListenOptions, Stream } from './stream.js';
import type { Handle, SignalWatcher, Timer } from './watchers.js';

/** Options every hub factory accepts. */
export interface HubOptions {
  /**
   * Called with every exception thrown by a callback the hub ran, and with
   * errors the hub cannot report anywhere else. `context` names what failed
   * (`'timer(500ms)'`, `'callback'`). Defaults to printing on stderr.
   */
  onError?: (error: unknown, context: string) => void;
}

/** What a hub module exports: `export function createHub(options): Hub`. */
export type HubFactory = (options?: HubOptions) => Hub;

/** Counts of a hub's own live objects, for leak checks and metrics. */
export interface HubStats {
  /** Handles and requests that can still call back: started watchers, reading or writing streams, listening listeners, receiving datagrams, pending connects and callbacks. */
  active: number;
  /** The subset of `active` that keeps the process alive. */
  referenced: number;
  /** Streams, listeners and datagrams not yet closed (sockets held open). */
  open: number;
}

/** An event loop that greenhub runs on. */
export interface Hub {
  /** Short name, as used in `GREENHUB_HUB`: `'libev'`, `'pure'`, ... */
  readonly name: string;
  /** What the loop polls with underneath: `'epoll'`, `'libuv'`, ... */
  readonly backend: string;
  /** Monotonic time in ms, cached for the current loop turn. */
  now(): number;
  /** Refresh the cached time returned by {@link Hub.now}. */
  updateNow(): void;
  /**
   * Run `fn` on a later loop turn — never synchronously — in FIFO order with
   * every other callback (gevent's `run_callback`). Callbacks scheduled while
   * callbacks run wait for the next turn. As with `setImmediate`, the
   * microtasks and `process.nextTick`s a callback queues run before the next
   * callback, so a greenlet woken by a callback runs before the next one on
   * every hub. A pending callback counts as referenced active work.
   * `cancel()` on the returned handle stops it from running. Like every
   * callback a hub makes (timers, streams, listeners), it runs from the loop,
   * never inside a promise reaction of the code that scheduled it, so outside
   * any greenlet (`getcurrent()` is `main` there).
   */
  callback(fn: () => void): Handle;
  /**
   * A timer firing `afterMs` after `start()`, then every `repeatMs` if given.
   * It never fires early. Referenced by default.
   */
  timer(afterMs: number, repeatMs?: number): Timer;
  /**
   * A watcher called on each delivery of the POSIX signal `name`, through the
   * host's signal handling so that Node's own handlers keep working.
   * Unreferenced by default, like Node's signal handlers.
   */
  signal(name: NodeJS.Signals): SignalWatcher;
  /**
   * Bind and listen, synchronously: the returned listener's `address` is
   * already known. Throws `EADDRINUSE`, `EACCES`, `EADDRNOTAVAIL`... at once.
   * `host` must be a numeric IP address (name resolution is not a hub's job):
   * anything else throws `ERR_INVALID_IP_ADDRESS`.
   */
  listen(opts: ListenOptions): Listener;
  /**
   * Open a connection. `cb` runs exactly once, from a later loop turn: with the
   * connected stream, or with an error (`ECONNREFUSED`, `ENOENT` for a missing
   * unix path, `ERR_INVALID_IP_ADDRESS`, or `ECANCELED` after `cancel()`).
   */
  connect(opts: ConnectOptions, cb: (err: Error | null, stream?: Stream) => void): Handle;
  /** A bound UDP socket. Binds synchronously and throws like {@link Hub.listen}. */
  udp(opts: UdpOptions): Datagram;
  /** Time in ms the hub spent blocked waiting for events since it was created. */
  idleTime(): number;
  /** Counts of this hub's live objects. */
  stats(): HubStats;
  /**
   * Stop and close everything this hub owns and free native state. Pending
   * requests get `ECANCELED`. Idempotent. Every other method then throws
   * `ERR_HUB_CLOSED`.
   */
  close(): void;
}
