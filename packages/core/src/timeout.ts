import { type Greenlet, getcurrent } from './greenlet.js';
import type { Timer } from './hub/index.js';
import { getHub } from './registry.js';

/**
 * A deadline for the greenlet that starts it: when it fires, it throws into
 * that greenlet at its current (or next) greenhub wait — by default the
 * Timeout itself (`code: 'ETIMEDOUT'`), or the `error` given.
 *
 * Unlike eventlet's, it does not start on construction: call `start()`, use
 * `Timeout.startNew()`, or `using t = Timeout.startNew(ms)`, which closes it at
 * the end of the block. `ms` undefined never fires.
 *
 * @example
 * using _ = Timeout.startNew(1000);
 * const reply = await socket.readLine();   // throws the Timeout after 1 s
 */
export class Timeout extends Error implements Disposable {
  override name = 'Timeout';
  readonly code = 'ETIMEDOUT';
  /** The delay in ms, or undefined for "never". */
  readonly ms: number | undefined;
  #error: unknown;
  #timer: Timer | undefined;
  #owner: Greenlet<unknown> | undefined;
  #abort: AbortController | undefined;
  #fired = false;
  #firedWith: unknown;

  /**
   * @param ms delay in ms; undefined never fires.
   * @param error what to throw when it fires: an error (thrown as is), a string
   *   (becomes this Timeout's message), or nothing (the Timeout itself).
   */
  constructor(ms?: number, error?: unknown) {
    super(
      typeof error === 'string'
        ? error
        : ms === undefined
          ? 'Timeout (never fires)'
          : `Timeout after ${ms} ms`,
    );
    if (ms !== undefined && !(ms >= 0)) {
      throw Object.assign(new RangeError(`Timeout needs ms >= 0, got ${ms}`), { code: 'ERR_OUT_OF_RANGE' });
    }
    this.ms = ms;
    this.#error = typeof error === 'string' ? undefined : error;
  }

  /** Create and start a Timeout for the current greenlet. */
  static startNew(ms?: number, error?: unknown): Timeout {
    return new Timeout(ms, error).start();
  }

  /**
   * Arm the deadline for the current greenlet.
   * @throws `ERR_INVALID_STATE` if it is already pending.
   */
  start(): this {
    if (this.pending) {
      throw Object.assign(new Error(`${this.message}: already pending; cancel() it before starting again`), {
        code: 'ERR_INVALID_STATE',
      });
    }
    if (this.ms === undefined) return this;
    this.#owner = getcurrent();
    this.#fired = false;
    this.#firedWith = undefined;
    // A signal aborted by an earlier firing must not abort host APIs given it for this one.
    if (this.#abort?.signal.aborted) this.#abort = undefined;
    const hub = getHub();
    hub.updateNow();
    this.#timer ??= hub.timer(this.ms);
    this.#timer.start(() => this.#fire());
    return this;
  }

  /** True while armed and not yet fired. */
  get pending(): boolean {
    return this.#timer?.active === true;
  }

  /** Aborted when the Timeout fires; pass it to host APIs (`fetch`, `fs`) so they stop too. */
  get signal(): AbortSignal {
    if (!this.#abort) {
      this.#abort = new AbortController();
      // Asked for only after it fired: already aborted, as a Greenlet's signal after a kill.
      if (this.#fired) this.#abort.abort(this.#firedWith);
    }
    return this.#abort.signal;
  }

  /** Disarm; can be started again. An error that fired but has not reached a wait yet is withdrawn. */
  cancel(): void {
    this.#timer?.stop();
    this.#owner?._withdraw(this);
  }

  /** Disarm for good and release the hub timer. */
  close(): void {
    this.cancel();
    this.#timer?.close();
    this.#timer = undefined;
    this.#owner = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #fire(): void {
    this.#fired = true;
    // An error class gets a fresh instance, as with kill() (gevent accepts a type too).
    const given = this.#error;
    const error =
      given === undefined ? this : typeof given === 'function' ? new (given as new () => unknown)() : given;
    this.#firedWith = error;
    this.#abort?.abort(error);
    this.#owner?._throwIn(error, this);
  }

  /** True once it has fired since the last `start()`. */
  get fired(): boolean {
    return this.#fired;
  }
}

/**
 * Run `fn` with a deadline. If that deadline fires, return `opts.fallback`
 * when given, else throw the `Timeout`.
 *
 * @example
 * const page = await withTimeout(2000, () => download(url), { fallback: null });
 */
export async function withTimeout<T, F = never>(
  ms: number,
  fn: () => T | Promise<T>,
  opts?: { fallback?: F },
): Promise<T | F> {
  const timeout = Timeout.startNew(ms);
  try {
    return await fn();
  } catch (err) {
    if (err === timeout && opts !== undefined && 'fallback' in opts) return opts.fallback as F;
    throw err;
  } finally {
    timeout.close();
  }
}
