import { Timeout, type Waitable, type Waiter } from '@greenhub/core';
import { LinkList } from './internal/locks-links.js';
import { WaiterQueue, waitInQueue } from './internal/locks-waiter-queue.js';

const PENDING = 0;
const VALUE = 1;
const ERROR = 2;

/**
 * A value or an error that will arrive later, for any number of greenlets to
 * wait for — gevent's `AsyncResult`.
 *
 * `get()` returns the value or throws the error; `wait()` never throws
 * because of the result or its own timeout. It is a `Waitable` but
 * deliberately not a thenable (an `async` function returning it would
 * otherwise be turned into its value): read it with `get()`.
 *
 * As in gevent, it cannot be reset, but `set()`/`setException()` may be
 * called again: the latest outcome replaces the earlier one for every later
 * read, and greenlets woken by the first but not yet resumed read the latest.
 *
 * @example
 * const reply = new AsyncResult<string>();
 * pending.set(requestId, reply);            // the reader greenlet calls reply.set(line)
 * const line = await reply.get({ timeout: 5000 });
 */
export class AsyncResult<T = unknown> implements Waitable {
  #state = PENDING;
  #value: T | undefined;
  #exception: unknown;
  readonly #waiters = new WaiterQueue<Waiter<boolean>>();
  readonly #links = new LinkList<this>(this, () => 'AsyncResult');

  /**
   * Store the value and wake every waiter; `rawlink` callbacks run on a later hub turn.
   * @param value what `get()` returns from now on.
   * @example
   * result.set(42);
   */
  set(value: T): void {
    this.#state = VALUE;
    this.#value = value;
    this.#exception = undefined;
    this.#notify();
  }

  /**
   * Store an error that `get()` throws from now on, and wake every waiter.
   * @param error what `get()` throws.
   * @example
   * result.setException(new Error('upstream closed'));
   */
  setException(error: unknown): void {
    this.#state = ERROR;
    this.#value = undefined;
    this.#exception = error;
    this.#notify();
  }

  #notify(): void {
    for (const waiter of this.#waiters.takeAll()) waiter.switch(true);
    this.#links.notify();
  }

  /**
   * Whether a value or error was stored.
   * @returns true once `set()` or `setException()` was called.
   * @example
   * if (result.ready()) use(result.getNowait());
   */
  ready(): boolean {
    return this.#state !== PENDING;
  }

  /**
   * Whether it holds a value (not an error).
   * @returns true after `set()`, false before anything was stored or after `setException()`.
   * @example
   * if (result.ready() && !result.successful()) log(result.exception);
   */
  successful(): boolean {
    return this.#state === VALUE;
  }

  /** The stored value; undefined before `set()` or when it holds an error. */
  get value(): T | undefined {
    return this.#value;
  }

  /** The stored error; undefined before `setException()` or when it holds a value. */
  get exception(): unknown {
    return this.#exception;
  }

  /**
   * The value, waiting for it if needed.
   *
   * @param opts.block false: do not wait (throws `Timeout` if not ready).
   * @param opts.timeout ms to wait; undefined waits without limit.
   * @param opts.signal abort the wait: it rejects with `signal.reason`.
   * @returns the stored value.
   * @throws the stored error; a `Timeout` (`code: 'ETIMEDOUT'`) if not ready in
   *   time; the error of a `kill()` or `Timeout` aimed at the caller.
   * @example
   * const user = await lookup.get({ timeout: 1000 });
   */
  async get(opts?: { block?: boolean; timeout?: number; signal?: AbortSignal }): Promise<T> {
    if (this.#state === PENDING) {
      if (opts?.block === false) throw new Timeout(0, 'AsyncResult is not ready (get with block: false)');
      const timeout = opts?.timeout;
      if (!(await this.#waitReady(timeout, opts?.signal, 'AsyncResult.get'))) {
        throw new Timeout(timeout, `AsyncResult.get() timed out after ${timeout} ms`);
      }
    }
    return this.getNowait();
  }

  /**
   * The value if ready, without waiting.
   * @returns the stored value.
   * @throws the stored error; a `Timeout` (`code: 'ETIMEDOUT'`) if nothing is stored yet.
   * @example
   * try { return cache.getNowait(); } catch (err) { if (!(err instanceof Timeout)) throw err; }
   */
  getNowait(): T {
    if (this.#state === VALUE) return this.#value as T;
    if (this.#state === ERROR) throw this.#exception;
    throw new Timeout(0, 'AsyncResult is not ready (getNowait)');
  }

  /**
   * Wait until ready, at most `timeout` ms; never throws because of the result
   * or the timeout.
   *
   * @param timeout ms to wait; undefined waits without limit.
   * @param opts.signal abort the wait: it rejects with `signal.reason`.
   * @returns the value; undefined if it holds an error or `timeout` ran out.
   * @throws only the error of a `kill()` or `Timeout` aimed at the caller, or `signal.reason`.
   * @example
   * await result.wait(1000);
   * if (result.ready()) ...
   */
  async wait(timeout?: number, opts?: { signal?: AbortSignal }): Promise<T | undefined> {
    if (this.#state === PENDING) await this.#waitReady(timeout, opts?.signal, 'AsyncResult.wait');
    return this.#value;
  }

  #waitReady(timeout: number | undefined, signal: AbortSignal | undefined, kind: string): Promise<boolean> {
    return waitInQueue(this.#waiters, kind, timeout, signal);
  }

  /**
   * Call `cb(this)` from the hub once ready — on a later turn, at once if
   * already ready. Each callback runs once per registration.
   *
   * @param cb must not block; an error it throws goes to `configure({ onError })`.
   * @example
   * result.rawlink((r) => console.log('done', r.successful()));
   */
  rawlink(cb: (result: this) => void): void {
    this.#links.add(cb, this.#state !== PENDING);
  }

  /**
   * Remove a callback added with `rawlink`; unknown callbacks are ignored.
   * @param cb the callback given to `rawlink`.
   * @example
   * result.unlink(onDone);
   */
  unlink(cb: (result: this) => void): void {
    this.#links.remove(cb);
  }

  /** @internal Greenlets blocked in `get()`/`wait()` (for leak tests). */
  get _waiting(): number {
    return this.#waiters.length;
  }

  toString(): string {
    const state = this.#state === PENDING ? 'pending' : this.#state === VALUE ? 'value' : 'exception';
    return `AsyncResult(${state})`;
  }
}
