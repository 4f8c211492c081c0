import { codedError, Timeout, Waiter } from '@greenhub/core';
import { releaseOnDispose } from './internal/locks-hold.js';
import { RESOLVED_FALSE, RESOLVED_TRUE } from './internal/locks-settled.js';
import { WaiterQueue } from './internal/locks-waiter-queue.js';

/** Options of `acquire()` on every lock. */
export interface AcquireOptions {
  /** false: do not wait; return false at once if not available (default true). */
  blocking?: boolean;
  /** Give up after this many ms and return false (`undefined` = no limit). */
  timeout?: number;
  /** Abort the wait: `acquire()` rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** One greenlet blocked in `acquire()` (takes a permit) or `wait()` (only watches). */
interface Entry {
  readonly waiter: Waiter<boolean>;
  readonly takes: boolean;
}

/**
 * A counter of permits: `acquire()` takes one, waiting while there is none;
 * `release()` gives one back — gevent's `Semaphore`.
 *
 * Fair: a release hands its permit straight to the greenlet that has waited
 * longest, so a greenlet that calls `acquire()` later — even in the same
 * turn, right after releasing — queues behind it (gevent issue 1487).
 * `release()` may raise the counter above its initial value (use
 * `BoundedSemaphore` to forbid that).
 *
 * @example
 * const downloads = new Semaphore(4);
 * await Promise.all(urls.map((url) => downloads.use(() => fetch(url))));
 */
export class Semaphore {
  #counter: number;
  readonly #waiters = new WaiterQueue<Entry>();
  readonly #kind: string;

  /**
   * @param value initial number of permits (default 1).
   * @throws RangeError (`ERR_OUT_OF_RANGE`) if `value` is not an integer >= 0.
   */
  constructor(value = 1) {
    if (!Number.isInteger(value) || value < 0) {
      throw codedError(
        new RangeError(`${new.target.name} needs an integer value >= 0, got ${value}`),
        'ERR_OUT_OF_RANGE',
      );
    }
    this.#counter = value;
    this.#kind = new.target.name;
  }

  /** Permits available now (never negative). */
  get counter(): number {
    return this.#counter;
  }

  /**
   * Whether `acquire()` would have to wait.
   * @returns true when no permit is available.
   * @example
   * if (lock.locked()) console.log('busy');
   */
  locked(): boolean {
    return this.#counter <= 0;
  }

  /**
   * Take a permit if one is available now, without waiting.
   * @returns true if a permit was taken.
   * @example
   * if (sem.tryAcquire()) { try { work(); } finally { sem.release(); } }
   */
  tryAcquire(): boolean {
    if (this.#counter <= 0) return false;
    this.#counter--;
    return true;
  }

  /**
   * Take a permit, waiting (in FIFO order) until one is available.
   *
   * @param opts.blocking false: return false at once instead of waiting.
   * @param opts.timeout ms to wait; undefined waits without limit.
   * @param opts.signal abort the wait: it rejects with `signal.reason`.
   * @returns true once a permit is taken; false if `timeout` ran out or
   *   `blocking` is false and none was available (gevent's semantics).
   * @throws the error of a `kill()` or firing `Timeout` aimed at the caller;
   *   `signal.reason` when the signal aborts. No permit is taken then.
   * @example
   * if (!(await sem.acquire({ timeout: 100 }))) return 'busy';
   * try { await work(); } finally { sem.release(); }
   */
  acquire(opts?: AcquireOptions): Promise<boolean> {
    if (this.#counter > 0) {
      this.#counter--;
      return RESOLVED_TRUE;
    }
    if (opts?.blocking === false) return RESOLVED_FALSE;
    return this.#block(true, opts?.timeout, opts?.signal);
  }

  /**
   * Give a permit back: to the longest-waiting greenlet if there is one (it
   * owns the permit from this moment), else to the counter.
   *
   * @throws for `BoundedSemaphore` and `Lock`: `ERR_SEMAPHORE_RELEASED_TOO_MANY`
   *   when this would exceed the initial value.
   * @example
   * sem.release();
   */
  release(): void {
    this._checkRelease(this.#counter);
    this.#counter++;
    while (this.#counter > 0 && this.#waiters.length > 0) {
      const entry = this.#waiters.shift()!;
      // switch() is false for a waiter that already gave up: the permit goes to the next one.
      if (entry.waiter.switch(true) && entry.takes) this.#counter--;
    }
  }

  /** @internal Overridden by `BoundedSemaphore` to refuse a release past the initial value. */
  protected _checkRelease(_counter: number): void {}

  /**
   * Wait until a permit is available, without taking it.
   *
   * @param timeout ms to wait; undefined waits without limit.
   * @param opts.signal abort the wait: it rejects with `signal.reason`.
   * @returns true if a permit is available, false if `timeout` ran out (never
   *   throws on timeout) — gevent returns the counter instead. Another greenlet
   *   may take the permit before this one acts.
   * @example
   * await sem.wait();
   */
  wait(timeout?: number, opts?: { signal?: AbortSignal }): Promise<boolean> {
    if (this.#counter > 0) return RESOLVED_TRUE;
    return this.#block(false, timeout, opts?.signal);
  }

  async #block(
    takes: boolean,
    timeout: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    const entry: Entry = {
      waiter: new Waiter<boolean>(`${this.#kind}.${takes ? 'acquire' : 'wait'}`),
      takes,
    };
    this.#waiters.push(entry);
    let woken = false;
    try {
      woken = await entry.waiter.get({ timeout, timeoutValue: false, signal });
      return woken;
    } finally {
      if (!woken) this.#waiters.remove(entry);
    }
  }

  /**
   * Take a permit and return a `Disposable` that gives it back:
   * `using _ = await sem.hold()`. Disposing twice releases once.
   *
   * @param opts as for `acquire()`.
   * @returns a `Disposable` whose disposal calls `release()`.
   * @throws a `Timeout` (`code: 'ETIMEDOUT'`) if no permit came within
   *   `timeout` (or at once with `blocking: false`); kill/Timeout/abort errors as `acquire()`.
   * @example
   * {
   *   using _ = await lock.hold({ timeout: 1000 });
   *   await updateSharedState();
   * } // released here, even on throw
   */
  async hold(opts?: AcquireOptions): Promise<Disposable> {
    if (!(await this.acquire(opts))) throw this.#timedOut('hold', opts);
    return releaseOnDispose(() => this.release());
  }

  /**
   * Run `fn` holding a permit, and release it when `fn` ends, even if it throws.
   *
   * @param fn what to run while holding the permit.
   * @param opts as for `acquire()`.
   * @returns what `fn` returns.
   * @throws what `fn` throws; a `Timeout` as `hold()`.
   * @example
   * const body = await connections.use(() => fetchPage(url));
   */
  async use<R>(fn: () => R | Promise<R>, opts?: AcquireOptions): Promise<R> {
    if (!(await this.acquire(opts))) throw this.#timedOut('use', opts);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  #timedOut(method: string, opts: AcquireOptions | undefined): Timeout {
    return opts?.blocking === false
      ? new Timeout(0, `${this.#kind}.${method}(): not available (blocking: false)`)
      : new Timeout(opts?.timeout, `${this.#kind}.${method}() timed out after ${opts?.timeout} ms`);
  }

  /** @internal Greenlets blocked in `acquire()`/`wait()` (for leak tests). */
  get _waiting(): number {
    return this.#waiters.length;
  }

  toString(): string {
    return `${this.#kind}(counter=${this.#counter}, waiting=${this.#waiters.length})`;
  }
}

/**
 * A `Semaphore` whose `release()` refuses to raise the counter above its
 * initial value — catching a release without a matching acquire.
 *
 * @example
 * const slots = new BoundedSemaphore(2);
 * await slots.acquire(); slots.release();
 * slots.release(); // throws ERR_SEMAPHORE_RELEASED_TOO_MANY
 */
export class BoundedSemaphore extends Semaphore {
  readonly #initial: number;

  /**
   * @param value initial and maximum number of permits (default 1).
   * @throws RangeError (`ERR_OUT_OF_RANGE`) if `value` is not an integer >= 0.
   */
  constructor(value = 1) {
    super(value);
    this.#initial = value;
  }

  /** @internal */
  protected override _checkRelease(counter: number): void {
    if (counter >= this.#initial) {
      throw codedError(
        new Error(
          `${this.constructor.name} released too many times: release() without a matching acquire() ` +
            `would raise the counter above its initial value ${this.#initial}. ` +
            'Release only what you acquired (hold() or use() pair them for you).',
        ),
        'ERR_SEMAPHORE_RELEASED_TOO_MANY',
      );
    }
  }
}

/**
 * A mutual-exclusion lock: a `BoundedSemaphore(1)`, gevent's `Lock`. It has
 * no owner — any greenlet may release it (use `RLock` for ownership and
 * re-entrance); releasing an unlocked Lock throws.
 *
 * @example
 * const lock = new Lock();
 * await lock.use(async () => { balance = (await read()) + amount; await write(balance); });
 */
export class Lock extends BoundedSemaphore {
  constructor() {
    super(1);
  }
}
