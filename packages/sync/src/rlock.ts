import { codedError, type Greenlet, getcurrent, Timeout, type Waiter } from '@greenhub/core';
import { releaseOnDispose } from './internal/locks-hold.js';
import { RESOLVED_FALSE, RESOLVED_TRUE } from './internal/locks-settled.js';
import { WaiterQueue, waitInQueue } from './internal/locks-waiter-queue.js';
import type { AcquireOptions } from './semaphore.js';

/**
 * A re-entrant lock owned by a greenlet: the owner may acquire it again (each
 * `acquire()` needs its `release()`), other greenlets wait in FIFO order —
 * gevent's `RLock`.
 *
 * The owner is the greenlet (`getcurrent()`), not the async call: two async
 * functions running concurrently in the same greenlet (e.g. under
 * `Promise.all`) share the lock. Code outside any greenlet runs as `main`.
 *
 * @example
 * const lock = new RLock();
 * async function transfer() { using _ = await lock.hold(); await debit(); await credit(); }
 * async function debit() { using _ = await lock.hold(); ... }   // re-entrant: no deadlock
 */
export class RLock {
  #owner: Greenlet<unknown> | undefined;
  #count = 0;
  readonly #waiters = new WaiterQueue<Waiter<boolean>>();

  /**
   * Acquire the lock, or count one more level if the current greenlet owns it.
   *
   * @param opts.blocking false: return false at once instead of waiting.
   * @param opts.timeout ms to wait; undefined waits without limit.
   * @param opts.signal abort the wait: it rejects with `signal.reason`.
   * @returns true once owned; false if `timeout` ran out or `blocking` is
   *   false and another greenlet owns it.
   * @throws the error of a `kill()` or firing `Timeout` aimed at the caller;
   *   `signal.reason` when the signal aborts.
   * @example
   * if (await lock.acquire({ timeout: 500 })) { try { ... } finally { lock.release(); } }
   */
  acquire(opts?: AcquireOptions): Promise<boolean> {
    const me = getcurrent();
    if (this.#owner === me) {
      this.#count++;
      return RESOLVED_TRUE;
    }
    if (this.#owner === undefined) {
      this.#owner = me;
      this.#count = 1;
      return RESOLVED_TRUE;
    }
    if (opts?.blocking === false) return RESOLVED_FALSE;
    return this.#block(opts);
  }

  #block(opts: AcquireOptions | undefined): Promise<boolean> {
    return waitInQueue(this.#waiters, 'RLock.acquire', opts?.timeout, opts?.signal);
  }

  /**
   * Release one level; at the last one the lock passes straight to the
   * longest-waiting greenlet (which owns it from this moment).
   *
   * @throws `ERR_LOCK_NOT_OWNED` if the current greenlet does not own the lock.
   * @example
   * lock.release();
   */
  release(): void {
    const me = getcurrent();
    if (this.#owner !== me) {
      throw codedError(
        new Error(
          `cannot release an RLock that ${me} does not own (${
            this.#owner ? `owned by ${this.#owner}` : 'unlocked'
          }): release it from the greenlet that acquired it`,
        ),
        'ERR_LOCK_NOT_OWNED',
      );
    }
    if (--this.#count > 0) return;
    this.#owner = undefined;
    this.#handOff();
  }

  #handOff(): void {
    while (this.#waiters.length > 0) {
      const waiter = this.#waiters.shift()!;
      const greenlet = waiter.owner;
      // switch() is false for a waiter that already gave up: the lock goes to the next one.
      if (greenlet !== undefined && waiter.switch(true)) {
        this.#owner = greenlet;
        this.#count = 1;
        return;
      }
    }
  }

  /**
   * Whether any greenlet owns the lock.
   * @returns true while owned.
   * @example
   * if (!lock.locked()) console.log('free');
   */
  locked(): boolean {
    return this.#owner !== undefined;
  }

  /**
   * Acquire and return a `Disposable` that releases: `using _ = await lock.hold()`.
   * Disposing twice releases once. Dispose it in the greenlet that acquired it.
   *
   * @param opts as for `acquire()`.
   * @returns a `Disposable` whose disposal calls `release()`.
   * @throws a `Timeout` (`code: 'ETIMEDOUT'`) if not acquired within `timeout`
   *   (or at once with `blocking: false`); kill/Timeout/abort errors as `acquire()`.
   * @example
   * { using _ = await lock.hold(); await mutate(); }
   */
  async hold(opts?: AcquireOptions): Promise<Disposable> {
    if (!(await this.acquire(opts))) throw timedOut('hold', opts);
    return releaseOnDispose(() => this.release());
  }

  /**
   * Run `fn` owning the lock, and release it when `fn` ends, even if it throws.
   *
   * @param fn what to run while owning the lock.
   * @param opts as for `acquire()`.
   * @returns what `fn` returns.
   * @throws what `fn` throws; a `Timeout` as `hold()`.
   * @example
   * await lock.use(() => saveAll());
   */
  async use<R>(fn: () => R | Promise<R>, opts?: AcquireOptions): Promise<R> {
    if (!(await this.acquire(opts))) throw timedOut('use', opts);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  /** @internal For `Condition`: whether the current greenlet owns the lock. */
  _isOwned(): boolean {
    return this.#owner === getcurrent();
  }

  /** @internal For `Condition.wait()`: release every level at once; returns how many there were. */
  _releaseSave(): number {
    const count = this.#count;
    this.#count = 1;
    this.release();
    return count;
  }

  /** @internal For `Condition.wait()`: acquire again with the saved number of levels. */
  async _acquireRestore(count: number): Promise<void> {
    await this.acquire();
    this.#count = count;
  }

  /** @internal Greenlets blocked in `acquire()` (for leak tests). */
  get _waiting(): number {
    return this.#waiters.length;
  }

  toString(): string {
    return this.#owner ? `RLock(owned by ${this.#owner}, depth ${this.#count})` : 'RLock(unlocked)';
  }
}

function timedOut(method: string, opts: AcquireOptions | undefined): Timeout {
  return opts?.blocking === false
    ? new Timeout(0, `RLock.${method}(): owned by another greenlet (blocking: false)`)
    : new Timeout(opts?.timeout, `RLock.${method}() timed out after ${opts?.timeout} ms`);
}
