import { codedError, Waiter } from '@greenhub/core';
import { WaiterQueue } from './internal/locks-waiter-queue.js';
import { RLock } from './rlock.js';
import type { AcquireOptions, Lock } from './semaphore.js';

const NOTHING: unique symbol = Symbol('nothing');

/**
 * A condition variable: greenlets holding its lock wait until another
 * greenlet notifies them — Python's `threading.Condition`.
 *
 * `wait()` releases the lock (every level of an `RLock`) while waiting and
 * always takes it back before returning or throwing — after a timeout, an
 * abort or a kill too. Notified waiters wake in FIFO order. Waiting or
 * notifying without holding the lock throws `ERR_LOCK_NOT_OWNED`; with a
 * plain `Lock`, which has no owner, "holding" means "the lock is locked".
 *
 * @example
 * const cond = new Condition();
 * const items: string[] = [];
 * // consumer
 * { using _ = await cond.hold(); await cond.waitFor(() => items.length > 0); use(items.shift()!); }
 * // producer
 * { using _ = await cond.hold(); items.push('job'); cond.notify(); }
 */
export class Condition {
  readonly #lock: Lock | RLock;
  readonly #waiters = new WaiterQueue<Waiter<boolean>>();

  /**
   * @param lock the lock to wait and notify under (default: a new `RLock`).
   */
  constructor(lock: Lock | RLock = new RLock()) {
    this.#lock = lock;
  }

  /**
   * Acquire the underlying lock.
   * @param opts as for the lock's `acquire()`.
   * @returns true once held; false on timeout or `blocking: false`.
   * @throws the error of a `kill()`/`Timeout` aimed at the caller; `signal.reason` on abort.
   * @example
   * await cond.acquire(); try { cond.notifyAll(); } finally { cond.release(); }
   */
  acquire(opts?: AcquireOptions): Promise<boolean> {
    return this.#lock.acquire(opts);
  }

  /**
   * Release the underlying lock.
   * @throws as the lock's `release()` (`ERR_LOCK_NOT_OWNED`, `ERR_SEMAPHORE_RELEASED_TOO_MANY`).
   * @example
   * cond.release();
   */
  release(): void {
    this.#lock.release();
  }

  /**
   * Acquire the underlying lock and return a `Disposable` that releases it.
   * @param opts as for the lock's `acquire()`.
   * @returns a `Disposable` whose disposal calls `release()`; disposing twice releases once.
   * @throws a `Timeout` if not acquired within `timeout`.
   * @example
   * { using _ = await cond.hold(); ready = true; cond.notifyAll(); }
   */
  hold(opts?: AcquireOptions): Promise<Disposable> {
    return this.#lock.hold(opts);
  }

  /**
   * Release the lock, wait for `notify()`, and re-acquire the lock.
   *
   * @param timeout ms to wait for a notification; undefined waits without limit.
   * @param opts.signal abort the wait: it rejects with `signal.reason` (lock re-acquired first).
   * @returns true if notified, false if `timeout` ran out — never throws on timeout.
   * @throws `ERR_LOCK_NOT_OWNED` if the caller does not hold the lock; the error
   *   of a `kill()` or `Timeout` aimed at the caller, or `signal.reason` —
   *   always with the lock held again.
   * @example
   * { using _ = await cond.hold(); while (!done) await cond.wait(); }
   */
  async wait(timeout?: number, opts?: { signal?: AbortSignal }): Promise<boolean> {
    this.#checkOwned('wait');
    const waiter = new Waiter<boolean>('Condition.wait');
    this.#waiters.push(waiter);
    const saved = this.#releaseAll();
    let notified = false;
    let failure: unknown = NOTHING;
    try {
      notified = await waiter.get({ timeout, timeoutValue: false, signal: opts?.signal });
    } catch (err) {
      failure = err;
    }
    if (!notified) this.#waiters.remove(waiter);
    const interrupted = await this.#reacquire(saved);
    // The wait's own error wins; a kill or Timeout that came while re-acquiring is raised otherwise.
    if (failure !== NOTHING) throw failure;
    if (interrupted !== NOTHING) throw interrupted;
    return notified;
  }

  /** Release the lock completely (every level of an RLock); returns what `#reacquire` needs. */
  #releaseAll(): number {
    const lock = this.#lock;
    if (lock instanceof RLock) return lock._releaseSave();
    lock.release();
    return 1;
  }

  /**
   * Take the lock back however long it takes: a kill or Timeout arriving meanwhile is kept
   * and returned, so the caller never leaves `wait()` without the lock it came in with.
   */
  async #reacquire(saved: number): Promise<unknown> {
    const lock = this.#lock;
    let interrupted: unknown = NOTHING;
    for (;;) {
      try {
        if (lock instanceof RLock) await lock._acquireRestore(saved);
        else await lock.acquire();
        return interrupted;
      } catch (err) {
        if (interrupted === NOTHING) interrupted = err;
      }
    }
  }

  /**
   * Wait until `predicate()` returns true, re-checking it after each
   * notification, at most `timeout` ms in all.
   *
   * @param predicate checked with the lock held.
   * @param timeout total ms to wait; undefined waits without limit.
   * @param opts.signal abort the wait: it rejects with `signal.reason`.
   * @returns the predicate's last result: false if `timeout` ran out first.
   * @throws as `wait()`.
   * @example
   * { using _ = await cond.hold(); if (!(await cond.waitFor(() => queue.length > 0, 1000))) return; }
   */
  async waitFor(
    predicate: () => boolean,
    timeout?: number,
    opts?: { signal?: AbortSignal },
  ): Promise<boolean> {
    const deadline = timeout === undefined ? undefined : performance.now() + timeout;
    let result = predicate();
    while (!result) {
      let remaining: number | undefined;
      if (deadline !== undefined) {
        remaining = deadline - performance.now();
        if (remaining <= 0) break;
      }
      await this.wait(remaining, opts);
      result = predicate();
    }
    return result;
  }

  /**
   * Wake up to `n` greenlets waiting in `wait()`, longest-waiting first; each
   * returns once it re-acquires the lock (after the caller releases it).
   *
   * @param n how many to wake (default 1).
   * @throws `ERR_LOCK_NOT_OWNED` if the caller does not hold the lock.
   * @example
   * { using _ = await cond.hold(); items.push(item); cond.notify(); }
   */
  notify(n = 1): void {
    this.#checkOwned('notify');
    let left = n;
    while (left > 0 && this.#waiters.length > 0) {
      // switch() is false for a waiter that already gave up: the notification goes to the next one.
      if (this.#waiters.shift()!.switch(true)) left--;
    }
  }

  /**
   * Wake every greenlet waiting in `wait()`.
   * @throws `ERR_LOCK_NOT_OWNED` if the caller does not hold the lock.
   * @example
   * { using _ = await cond.hold(); closed = true; cond.notifyAll(); }
   */
  notifyAll(): void {
    this.notify(Number.POSITIVE_INFINITY);
  }

  #checkOwned(method: string): void {
    const lock = this.#lock;
    const owned = lock instanceof RLock ? lock._isOwned() : lock.locked();
    if (!owned) {
      throw codedError(
        new Error(
          `Condition.${method}() needs the condition's lock: ` +
            'call it inside `using _ = await cond.hold()` (or after `await cond.acquire()`)',
        ),
        'ERR_LOCK_NOT_OWNED',
      );
    }
  }

  /** @internal Greenlets blocked in `wait()` (for leak tests). */
  get _waiting(): number {
    return this.#waiters.length;
  }

  toString(): string {
    return `Condition(${this.#lock}, waiting=${this.#waiters.length})`;
  }
}
