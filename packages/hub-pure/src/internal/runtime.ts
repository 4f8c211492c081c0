import { performance } from 'node:perf_hooks';
import { hubClosedError, printError } from '@greenhub/core';
import { CallbackQueue } from '../callback-queue.js';
import { KeepAlive } from './keep-alive.js';

/** What the hub needs from each object it owns, to count it and to close it. */
export interface Owned {
  /** Can still call back (started, reading, with requests pending...). */
  readonly active: boolean;
  /** Active and keeping the process alive. */
  readonly keepsAlive: boolean;
  /** Holds a socket that only `close()` releases. */
  readonly holdsSocket: boolean;
  /** Close on behalf of `hub.close()`: cancel requests, release everything. */
  closeByHub(): void;
}

/**
 * The state every object of one hub shares: cached time, error reporting,
 * the callback queue and the set of owned objects.
 *
 * Objects register themselves while they matter to `stats()` and `close()`:
 * sockets from creation to close, watchers and requests while active, so that
 * a stopped timer the user forgets does not stay reachable from the hub.
 */
export class Runtime {
  closed = false;
  readonly callbacks: CallbackQueue;
  readonly keepAlive = new KeepAlive();
  readonly owned = new Set<Owned>();
  /** Timers that Node called before they were due and that wait on (see PureTimer). */
  readonly waitingTimers = new Set<{ readonly deadline: number; readonly armed: number }>();
  /** Timer starts so far (each start's number orders timers with equal deadlines). */
  timersArmed = 0;
  #now = performance.now();
  /** Streams with reads to deliver, in the order their first read of this turn came. */
  readonly #readers: { deliverQueued(): void }[] = [];
  readonly #deliverReads = (): void => this.#deliver();
  readonly #onError: (error: unknown, context: string) => void;

  constructor(onError: ((error: unknown, context: string) => void) | undefined) {
    this.#onError = onError ?? printError;
    this.callbacks = new CallbackQueue(
      () => this.enter(),
      (error, context) => this.report(error, context),
    );
  }

  /** The time cached for this loop turn. */
  now(): number {
    return this.#now;
  }

  /** Called whenever Node hands control to the hub (a new turn as far as hub code can tell). */
  enter(): void {
    this.#now = performance.now();
  }

  /** Throw `ERR_HUB_CLOSED` if the hub was closed. */
  assertOpen(): void {
    if (this.closed) throw hubClosedError('hub (pure)');
  }

  /**
   * Deliver `stream`'s reads with those of every other stream of this turn, from one
   * `setImmediate` once Node's poll phase handed them all over: one microtask checkpoint for
   * the whole batch, as hub-libev hands a wakeup's reads to JS in one call, instead of one
   * per chunk. Greenlets woken by the reads then run one after another.
   */
  deliverLater(stream: { deliverQueued(): void }): void {
    if (this.#readers.push(stream) === 1) setImmediate(this.#deliverReads);
  }

  #deliver(): void {
    const readers = this.#readers;
    this.enter();
    // A stream listed again meanwhile (a callback stopped it and read on) goes out in this batch.
    for (let i = 0; i < readers.length; i++) readers[i]!.deliverQueued();
    readers.length = 0;
  }

  /** Pass an exception to the hub's `onError`, which must not be able to break the caller either. */
  report(error: unknown, context: string): void {
    try {
      this.#onError(error, context);
    } catch (secondary) {
      printError(secondary, `onError (while reporting an error in ${context})`);
      printError(error, context);
    }
  }

  /** Run a user callback; what it throws goes to `onError` with `owner.what` as context. */
  call<A extends unknown[]>(fn: (...args: A) => void, owner: object, what: string, ...args: A): void {
    try {
      fn(...args);
    } catch (error) {
      this.report(error, what ? `${owner}.${what}` : `${owner}`);
    }
  }

  /**
   * Run a request's completion on the next drain of the callback queue, so that
   * it never runs in the turn the request was made and stays ordered with
   * `hub.callback()`s. Runs even after `hub.close()` (that is how `ECANCELED` arrives).
   */
  complete(
    cb: ((err: Error | null) => void) | undefined,
    err: Error | null,
    owner: object,
    what: string,
  ): void {
    if (cb === undefined) return;
    this.callbacks.push(() => this.call(cb, owner, what, err), false);
  }
}
