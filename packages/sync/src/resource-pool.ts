import {
  codedError,
  type Greenlet,
  getHub,
  reportError,
  sleep,
  spawn,
  Timeout,
  type Timer,
  Waiter,
  type WaitOptions,
} from '@greenhub/core';
import { backoffDelay } from './internal/resource-pool-backoff.js';

/** Options of {@link ResourcePool}. */
export interface ResourcePoolOptions<R> {
  /** Make a new resource (open a connection...). Runs in a greenlet of its own. */
  create(): R | Promise<R>;
  /** Close a resource the pool is done with. Errors are reported (`configure({ onError })`), except from `pool.destroy(r)`, which throws them. */
  destroy?(resource: R): void | Promise<void>;
  /** Check an idle resource before lending it again; `false` destroys it and the borrower gets another. */
  validate?(resource: R): boolean | Promise<boolean>;
  /** Most resources at once: idle, borrowed, being created or destroyed. */
  max: number;
  /** Resources kept ready even when unused (created at once, replaced when destroyed). Default 0. */
  min?: number;
  /** Destroy a resource idle this many ms, as long as more than `min` exist. Default: never. */
  idleTimeout?: number;
  /** Default `timeout` of `acquire()` and `use()`. Default: no limit. */
  acquireTimeout?: number;
}

/** Counts of a {@link ResourcePool}'s resources and waiters. */
export interface ResourcePoolStats {
  /** Resources that exist: idle plus borrowed. */
  size: number;
  /** Resources ready to lend. */
  idle: number;
  /** Resources lent out and not yet released or destroyed. */
  borrowed: number;
  /** Callers blocked in `acquire()`. */
  waiting: number;
  /** `create()` calls in progress (or backing off before a retry). */
  creating: number;
}

/** Options of {@link ResourcePool.use}. */
export interface ResourcePoolUseOptions extends WaitOptions {
  /**
   * When `fn` throws: destroy the resource instead of releasing it — always
   * (`true`) or when this predicate says so. Default `false` (release it).
   */
  destroyOnError?: boolean | ((error: unknown) => boolean);
}

interface Grant<R> {
  readonly resource: R;
  /** Straight from `create()`: not validated. */
  readonly fresh: boolean;
}

interface IdleEntry<R> {
  readonly resource: R;
  readonly since: number;
}

const TIMED_OUT: unique symbol = Symbol('ResourcePool.timedOut');

/**
 * A pool of reusable resources (database connections, clients) — eventlet's
 * `pools.Pool` / `db_pool`, generalised.
 *
 * `acquire()` lends an idle resource, or creates one while fewer than `max`
 * exist, or waits — waiters are served in FIFO order, and a waiter that gives
 * up (timeout, abort, kill) leaves the queue at once, so a later `release()`
 * always reaches a live waiter and is never lost. Idle resources are lent
 * most-recently-used first, so that with `idleTimeout` the surplus ages out.
 *
 * A `create()` that fails is retried with exponential backoff (10 ms → 1 s,
 * jittered), one attempt at a time, instead of in a loop; each failure is
 * thrown to the oldest waiter (others keep waiting for the next attempt, or
 * their own timeout).
 *
 * @example
 * const pool = new ResourcePool({ create: () => connect(url), destroy: (c) => c.close(), max: 10, acquireTimeout: 5000 });
 * const rows = await pool.use((conn) => conn.query('select 1'));
 * await pool.drain();
 */
export class ResourcePool<R> implements AsyncDisposable {
  /** Most resources at once. */
  readonly max: number;
  /** Resources kept ready. */
  readonly min: number;
  readonly #options: ResourcePoolOptions<R>;
  readonly #idleTimeout: number | undefined;
  readonly #acquireTimeout: number | undefined;
  /** A stack: the most recently released resource is lent first. */
  readonly #idle: IdleEntry<R>[] = [];
  readonly #borrowed = new Set<R>();
  /** Only live waiters: whoever settles or abandons one deletes it. */
  readonly #waiters = new Set<Waiter<Grant<R>>>();
  readonly #creators = new Set<Greenlet<void>>();
  #destroying = 0;
  #failures = 0;
  #retryAt = 0;
  #lastCreateError: unknown;
  #reaper: Timer | undefined;
  #draining = false;
  readonly #drainWaiters = new Set<Waiter<void>>();

  /**
   * @param options `create` and `max` are required; see {@link ResourcePoolOptions}.
   * @throws `ERR_INVALID_ARG_TYPE` without a `create` function; `ERR_OUT_OF_RANGE` for a bad `max`, `min`, `idleTimeout` or `acquireTimeout`.
   */
  constructor(options: ResourcePoolOptions<R>) {
    if (typeof options?.create !== 'function') {
      throw codedError(new TypeError('ResourcePool needs a create() function'), 'ERR_INVALID_ARG_TYPE');
    }
    const min = options.min ?? 0;
    if (!Number.isInteger(options.max) || options.max < 1) {
      throw codedError(
        new RangeError(`ResourcePool max must be a positive integer, got ${options.max}`),
        'ERR_OUT_OF_RANGE',
      );
    }
    if (!Number.isInteger(min) || min < 0 || min > options.max) {
      throw codedError(
        new RangeError(`ResourcePool min must be an integer from 0 to max (${options.max}), got ${min}`),
        'ERR_OUT_OF_RANGE',
      );
    }
    for (const key of ['idleTimeout', 'acquireTimeout'] as const) {
      const value = options[key];
      if (value !== undefined && !(value >= 0)) {
        throw codedError(
          new RangeError(`ResourcePool ${key} must be a number >= 0 (ms), got ${value}`),
          'ERR_OUT_OF_RANGE',
        );
      }
    }
    this.#options = options;
    this.max = options.max;
    this.min = min;
    this.#idleTimeout = options.idleTimeout;
    this.#acquireTimeout = options.acquireTimeout;
    this.#fill();
  }

  /** Counts of resources and waiters right now. */
  get stats(): ResourcePoolStats {
    return {
      size: this.#idle.length + this.#borrowed.size,
      idle: this.#idle.length,
      borrowed: this.#borrowed.size,
      waiting: this.#waiters.size,
      creating: this.#creators.size,
    };
  }

  /**
   * Borrow a resource: an idle one (validated first, if `validate` is set), a
   * new one while fewer than `max` exist, or the next one released.
   *
   * @param opts `timeout` (default `acquireTimeout`), `signal`.
   * @returns the resource; give it back with `release()` or `destroy()`.
   * @throws a `Timeout` (`code: 'ETIMEDOUT'`) when none comes in time; the
   *   signal's reason; the error of a failed `create()` (to the oldest waiter);
   *   what `validate` threw (the resource is then destroyed);
   *   `ERR_POOL_DRAINED` after `drain()`.
   * @example
   * const conn = await pool.acquire({ timeout: 1000 });
   * try { await conn.query(sql); } finally { pool.release(conn); }
   */
  async acquire(opts?: WaitOptions): Promise<R> {
    const timeout = opts?.timeout ?? this.#acquireTimeout;
    const deadline = timeout === undefined ? undefined : performance.now() + timeout;
    for (;;) {
      if (this.#draining) throw drainedError();
      let grant: Grant<R>;
      const entry = this.#waiters.size === 0 ? this.#idle.pop() : undefined;
      if (entry) {
        this.#borrowed.add(entry.resource);
        grant = { resource: entry.resource, fresh: false };
      } else {
        const waiter = new Waiter<Grant<R>>('ResourcePool.acquire');
        const remaining = deadline === undefined ? undefined : Math.max(0, deadline - performance.now());
        const got = waiter.get({ timeout: remaining, signal: opts?.signal, timeoutValue: TIMED_OUT });
        if (waiter.waiting) {
          this.#waiters.add(waiter);
          this.#fill();
        }
        let result: Grant<R> | symbol;
        try {
          result = await got;
        } finally {
          this.#waiters.delete(waiter);
        }
        if (result === TIMED_OUT) throw this.#timeoutError(timeout ?? 0);
        grant = result as Grant<R>;
      }
      const validate = this.#options.validate;
      if (grant.fresh || !validate) return grant.resource;
      let valid: boolean;
      try {
        valid = await validate(grant.resource);
      } catch (error) {
        this.#discard(grant.resource);
        throw error;
      }
      if (valid) return grant.resource;
      this.#discard(grant.resource);
    }
  }

  /**
   * Give a borrowed resource back: to the longest waiting live caller, else to
   * the idle set. After `drain()` began, it is destroyed instead.
   *
   * @param resource what `acquire()` returned.
   * @throws `ERR_POOL_NOT_BORROWED` if it is not currently borrowed from this pool.
   * @example pool.release(conn);
   */
  release(resource: R): void {
    if (!this.#borrowed.delete(resource)) throw notBorrowedError('release');
    if (this.#draining) this.#destroyInBackground(resource);
    else this.#deliver(resource, false);
  }

  /**
   * Destroy a borrowed resource instead of giving it back (it broke), and
   * create a replacement if callers wait or fewer than `min` remain.
   *
   * @param resource what `acquire()` returned.
   * @returns when the `destroy` option has finished.
   * @throws `ERR_POOL_NOT_BORROWED` if it is not currently borrowed; what the `destroy` option threw.
   * @example await pool.destroy(conn);
   */
  async destroy(resource: R): Promise<void> {
    if (!this.#borrowed.delete(resource)) throw notBorrowedError('destroy');
    this.#destroying++;
    try {
      await this.#options.destroy?.(resource);
    } finally {
      this.#destroying--;
      this.#fill();
      this.#checkDrained();
    }
  }

  /**
   * Borrow a resource for the length of `fn`. It is released when `fn`
   * returns or throws (an application error rarely breaks a connection, and
   * `validate` catches one that did) — or destroyed when `fn` throws and
   * `destroyOnError` says so.
   *
   * @param fn receives the resource; its result is returned.
   * @param opts `timeout`, `signal` (as `acquire()`), `destroyOnError`.
   * @returns what `fn` returned.
   * @throws what `acquire()` or `fn` threw.
   * @example const user = await pool.use((db) => db.get('select * from users where id = ?', id));
   */
  async use<T>(fn: (resource: R) => T | Promise<T>, opts?: ResourcePoolUseOptions): Promise<T> {
    const resource = await this.acquire(opts);
    let result: T;
    try {
      result = await fn(resource);
    } catch (error) {
      if (this.#borrowed.has(resource)) {
        const rule = opts?.destroyOnError;
        if (rule === true || (typeof rule === 'function' && rule(error))) {
          this.#borrowed.delete(resource);
          this.#destroyInBackground(resource);
        } else {
          this.release(resource);
        }
      }
      throw error;
    }
    if (this.#borrowed.has(resource)) this.release(resource);
    return result;
  }

  /**
   * Close the pool: waiting callers get `ERR_POOL_DRAINED`, idle resources are
   * destroyed, borrowed ones are destroyed as they come back, and this waits
   * until all are gone. Later `acquire()` calls throw `ERR_POOL_DRAINED`.
   * Calling it again waits again; it is harmless.
   *
   * @param opts `timeout`, `signal` bound the wait only; draining goes on.
   * @returns when every resource was released and destroyed.
   * @throws a `Timeout` or the signal's reason when the wait is cut short.
   * @example await pool.drain({ timeout: 10_000 });
   */
  async drain(opts?: WaitOptions): Promise<void> {
    if (!this.#draining) {
      this.#draining = true;
      this.#reaper?.close();
      this.#reaper = undefined;
      const error = drainedError();
      for (const waiter of this.#waiters) {
        this.#waiters.delete(waiter);
        waiter.throw(error);
      }
      for (const creator of this.#creators) void creator.kill(undefined, { block: false });
      for (const entry of this.#idle.splice(0)) this.#destroyInBackground(entry.resource);
    }
    if (this.#isDrained()) return;
    const waiter = new Waiter<void>('ResourcePool.drain');
    const done = waiter.get(opts);
    if (waiter.waiting) this.#drainWaiters.add(waiter);
    try {
      await done;
    } finally {
      this.#drainWaiters.delete(waiter);
    }
  }

  /** Same as {@link ResourcePool.drain}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.drain();
  }

  /** Hand `resource` to the first live waiter, else make it idle. */
  #deliver(resource: R, fresh: boolean): void {
    if (this.#draining) {
      this.#destroyInBackground(resource);
      return;
    }
    for (const waiter of this.#waiters) {
      this.#waiters.delete(waiter);
      this.#borrowed.add(resource);
      if (waiter.switch({ resource, fresh })) return;
      this.#borrowed.delete(resource);
    }
    this.#idle.push({ resource, since: performance.now() });
    this.#scheduleReap();
  }

  /** A borrowed resource failed validation or its user's work: destroy it without waiting. */
  #discard(resource: R): void {
    this.#borrowed.delete(resource);
    this.#destroyInBackground(resource);
  }

  #destroyInBackground(resource: R): void {
    const destroy = this.#options.destroy;
    if (!destroy) {
      this.#fill();
      this.#checkDrained();
      return;
    }
    this.#destroying++;
    const g = spawn(async () => {
      try {
        await destroy(resource);
      } catch (error) {
        reportError(error, 'ResourcePool destroy()');
      } finally {
        this.#destroying--;
        this.#fill();
        this.#checkDrained();
      }
    });
    g.name = `ResourcePool.destroy#${g.id}`;
  }

  /** Start creators for the waiters and for `min`, within `max` (only one while create() is failing). */
  #fill(): void {
    if (this.#draining) return;
    const wanted = this.#wantedCreators();
    while (this.#creators.size < wanted) this.#startCreator();
  }

  #wantedCreators(): number {
    const existing = this.#idle.length + this.#borrowed.size + this.#destroying;
    const wanted = Math.min(Math.max(this.#waiters.size, this.min - existing), this.max - existing);
    return this.#failures > 0 ? Math.min(wanted, 1) : wanted;
  }

  #startCreator(): void {
    const g: Greenlet<void> = spawn(() => this.#create(g));
    g.name = `ResourcePool.create#${g.id}`;
    this.#creators.add(g);
    // Also when killed before it started, so its finally never ran.
    g.rawlink(() => {
      if (this.#creators.delete(g)) this.#checkDrained();
    });
  }

  async #create(self: Greenlet<void>): Promise<void> {
    try {
      for (;;) {
        // Leave at once when no longer needed, so the next creator's check counts right.
        if (this.#draining || this.#creators.size > this.#wantedCreators()) return;
        const wait = this.#retryAt - performance.now();
        if (wait > 0) {
          await sleep(wait);
          continue;
        }
        let resource: R;
        try {
          resource = await this.#options.create();
        } catch (error) {
          if (this.#draining) return;
          // This creator was killed (not a create() failure): end as told.
          if (self.signal.aborted) throw error;
          this.#failures++;
          this.#lastCreateError = error;
          this.#retryAt = performance.now() + backoffDelay(this.#failures);
          for (const waiter of this.#waiters) {
            this.#waiters.delete(waiter);
            if (waiter.throw(error)) break;
          }
          continue;
        }
        this.#failures = 0;
        this.#retryAt = 0;
        this.#lastCreateError = undefined;
        this.#creators.delete(self);
        this.#deliver(resource, true);
        return;
      }
    } finally {
      this.#creators.delete(self);
      this.#fill();
      this.#checkDrained();
    }
  }

  #scheduleReap(): void {
    const idleTimeout = this.#idleTimeout;
    if (idleTimeout === undefined || this.#draining || this.#reaper?.active) return;
    const oldest = this.#idle[0];
    if (!oldest || this.#idle.length + this.#borrowed.size <= this.min) return;
    this.#reaper?.close();
    const reaper = getHub().timer(Math.max(0, oldest.since + idleTimeout - performance.now()));
    reaper.unref();
    reaper.start(() => this.#reap());
    this.#reaper = reaper;
  }

  #reap(): void {
    const idleTimeout = this.#idleTimeout ?? Number.POSITIVE_INFINITY;
    const now = performance.now();
    for (;;) {
      const oldest = this.#idle[0];
      if (!oldest || now - oldest.since < idleTimeout) break;
      if (this.#idle.length + this.#borrowed.size <= this.min) break;
      this.#idle.shift();
      this.#destroyInBackground(oldest.resource);
    }
    this.#reaper?.close();
    this.#reaper = undefined;
    this.#scheduleReap();
  }

  #isDrained(): boolean {
    return this.#borrowed.size === 0 && this.#creators.size === 0 && this.#destroying === 0;
  }

  #checkDrained(): void {
    if (!this.#draining || !this.#isDrained()) return;
    for (const waiter of this.#drainWaiters) {
      this.#drainWaiters.delete(waiter);
      waiter.switch();
    }
  }

  #timeoutError(ms: number): Timeout {
    const failing =
      this.#lastCreateError === undefined
        ? ''
        : ` (create() is failing: ${this.#lastCreateError instanceof Error ? this.#lastCreateError.message : String(this.#lastCreateError)})`;
    return new Timeout(
      ms,
      `ResourcePool.acquire() timed out after ${ms} ms with ${this.#borrowed.size} of max ${this.max} resources borrowed${failing}; release resources sooner (use() does it for you), raise max, or wait longer`,
    );
  }
}

function drainedError(): Error {
  return codedError(
    new Error('ResourcePool was drained: it lends no more resources; create a new pool'),
    'ERR_POOL_DRAINED',
  );
}

function notBorrowedError(method: string): Error {
  return codedError(
    new Error(
      `ResourcePool.${method}(resource): that resource is not borrowed from this pool (given back twice, or never acquired from it)`,
    ),
    'ERR_POOL_NOT_BORROWED',
  );
}
