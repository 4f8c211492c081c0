import { type Greenlet, spawn as spawnGreenlet } from '@greenhub/core';
import { Group, type GroupLike, useSpawnNow } from './group.js';
import { WaitList } from './internal/queue-waiters.js';
import { QueueFull } from './queue-errors.js';

/**
 * Thrown by `Pool.add()` when no slot is free with `block: false`, or none
 * freed within `timeout` (gevent's `PoolFull`). Code `'ERR_POOL_FULL'`.
 *
 * @example
 * try { await pool.add(g, { block: false }); } catch (err) { if (err instanceof PoolFull) g.kill(); }
 */
export class PoolFull extends QueueFull {
  override name = 'PoolFull';
  override readonly code: string = 'ERR_POOL_FULL';
  /** @param message what was waited for. */
  constructor(message = 'the pool is full: wait with await pool.spawn() / add(), or pool.waitAvailable()') {
    super(message);
  }
}

const TIMED_OUT: unique symbol = Symbol('greenhub.poolTimedOut');

// Pool is a Group at run time (instanceof), but its spawn() waits for a slot and so returns a Promise:
// in types it extends what Group has but spawn.
const GroupWithoutSpawn: new () => GroupLike = Group;

/**
 * A Group of at most `size` greenlets (gevent's `Pool`): `spawn()` waits for
 * a free slot, first come, first served, and resolves to the Greenlet itself
 * (a Greenlet is not a thenable, so `await pool.spawn(fn)` gives the greenlet,
 * not its result). `map` / `imap` / `imapUnordered` keep at most `size` items
 * in flight.
 *
 * Differences from gevent: the size is fixed and must be a positive integer
 * (use `Group` for no limit); `size` is the number of members, as on Group —
 * the limit is `capacity`.
 *
 * @example
 * const pool = new Pool(10);
 * for (const url of urls) await pool.spawn(fetchPage, url);   // at most 10 at once
 * await pool.join();
 */
export class Pool extends GroupWithoutSpawn {
  readonly #capacity: number;
  #reserved = 0;
  #slotWaiters = new WaitList<void>();
  #availableWaiters = new WaitList<number>();

  /**
   * @param size how many members may run at once.
   * @throws RangeError (`ERR_OUT_OF_RANGE`) unless `size` is a positive integer.
   */
  constructor(size: number) {
    super();
    if (!Number.isInteger(size) || size < 1) {
      throw Object.assign(
        new RangeError(
          `Pool size must be a positive integer, got ${String(size)} (use a Group for no limit)`,
        ),
        { code: 'ERR_OUT_OF_RANGE' },
      );
    }
    this.#capacity = size;
    useSpawnNow(this as unknown as Group, (fn, item) =>
      this.#slotWaiters.length === 0 && this.freeCount() > 0 ? this.#start(fn, [item]) : undefined,
    );
  }

  /** The pool's size: the most members at once. */
  override get capacity(): number {
    return this.#capacity;
  }

  /** How many more greenlets could start now without waiting. */
  freeCount(): number {
    return Math.max(0, this.#capacity - this.size - this.#reserved);
  }

  /** True when no slot is free. */
  full(): boolean {
    return this.freeCount() === 0;
  }

  /**
   * Spawn `fn(...args)` as a member once a slot is free (at once if one is).
   * Waits in line behind earlier callers; a caller killed while waiting leaves no slot taken.
   *
   * @returns a promise of the greenlet itself, started.
   * @throws TypeError (`ERR_INVALID_ARG_TYPE`) if `fn` is not a function; a kill or Timeout aimed at the caller.
   * @example
   * const g = await pool.spawn(handle, socket);
   */
  spawn<A extends unknown[], T>(fn: (...args: A) => T | Promise<T>, ...args: A): Promise<Greenlet<T>> {
    if (typeof fn !== 'function') {
      return Promise.reject(
        Object.assign(new TypeError(`Pool.spawn needs a function, got ${typeof fn}`), {
          code: 'ERR_INVALID_ARG_TYPE',
        }),
      );
    }
    if (this.#slotWaiters.length === 0 && this.freeCount() > 0) return Promise.resolve(this.#start(fn, args));
    return this.#spawnWhenFree(fn, args);
  }

  /**
   * Track a greenlet as a member once a slot is free.
   *
   * @param opts `block: false` throws at once instead of waiting; `timeout` in ms; `signal` aborts.
   * @throws PoolFull when no slot is free with `block: false`, or none freed within `timeout`.
   * @example
   * const g = new Greenlet(worker); await pool.add(g); g.start();
   */
  override async add(
    g: Greenlet<unknown>,
    opts?: { block?: boolean; timeout?: number; signal?: AbortSignal },
  ): Promise<void> {
    if (this.has(g)) return;
    if (this.#slotWaiters.length > 0 || this.freeCount() === 0) {
      if (opts?.block === false) throw new PoolFull(`the pool is full (${this.#capacity} members)`);
      await this.#acquire('Pool.add', opts);
      if (this.has(g)) {
        // Added by someone else meanwhile: the slot handed to us goes to the next in line.
        this.#passOn();
        return;
      }
    }
    super.add(g);
  }

  /**
   * Stop tracking a greenlet, freeing its slot for the next caller waiting.
   * @example
   * pool.discard(g);
   */
  override discard(g: Greenlet<unknown>): void {
    if (!this.has(g)) return;
    super.discard(g);
    this.#passOn();
  }

  /**
   * Wait until at least one slot is free, without taking it.
   *
   * @param timeout give up after this many ms.
   * @param opts.signal abort the wait (it rejects with `signal.reason`).
   * @returns the number of free slots then; 0 if `timeout` ran out.
   * @example
   * if ((await pool.waitAvailable(1000)) === 0) console.warn('pool still busy');
   */
  async waitAvailable(timeout?: number, opts?: { signal?: AbortSignal }): Promise<number> {
    const free = this.freeCount();
    if (free > 0) return free;
    return this.#availableWaiters.parkOr('Pool.waitAvailable', undefined, {
      timeout,
      signal: opts?.signal,
      timeoutValue: 0,
    });
  }

  /** `Pool(capacity=10, size=3, waiting=0)`. */
  override toString(): string {
    return `Pool(capacity=${this.#capacity}, size=${this.size}, waiting=${this.#slotWaiters.length})`;
  }

  /** Hand free slots to waiting spawners, first come, first served; then tell those waiting for availability. */
  #passOn(): void {
    while (this.#slotWaiters.length > 0 && this.freeCount() > 0) {
      if (!this.#slotWaiters.wakeOne(undefined)) break;
      this.#reserved++;
    }
    const free = this.freeCount();
    if (free > 0 && this.#availableWaiters.length > 0) this.#availableWaiters.wakeAll(free);
  }

  #start<A extends unknown[], T>(fn: (...args: A) => T | Promise<T>, args: A): Greenlet<T> {
    const g = spawnGreenlet(fn, ...args);
    super.add(g);
    return g;
  }

  async #spawnWhenFree<A extends unknown[], T>(
    fn: (...args: A) => T | Promise<T>,
    args: A,
  ): Promise<Greenlet<T>> {
    await this.#acquire('Pool.spawn', undefined);
    return this.#start(fn, args);
  }

  /** Wait until a freed slot is handed to us; it is then ours (no longer reserved) to fill at once. */
  async #acquire(kind: string, opts: { timeout?: number; signal?: AbortSignal } | undefined): Promise<void> {
    const result = await this.#slotWaiters.parkOr<typeof TIMED_OUT>(kind, undefined, {
      timeout: opts?.timeout,
      signal: opts?.signal,
      timeoutValue: TIMED_OUT,
    });
    if (result === TIMED_OUT) throw new PoolFull(`no slot in the pool freed within ${opts?.timeout} ms`);
    this.#reserved--;
  }
}
