import { inspect } from 'node:util';
import { Greenlet, GreenletExit, getcurrent, killall, spawn as spawnGreenlet } from '@greenhub/core';
import { GroupMembers } from './internal/group-members.js';
import { catching, type Failed, MapRun, resultOf, type SpawnMember, tasksOf } from './internal/pool-map.js';
import { ListedWaiter, WaitList } from './internal/queue-waiters.js';

/** Options of `map`, `imap` and `imapUnordered`. */
export interface MapOptions {
  /**
   * At most this many items between being read from the source and being
   * handed to you (running, or finished and not yet consumed). Default: the
   * group's `capacity` — a Pool's size; unlimited for a Group, which therefore
   * starts every item at once (pass a limit for an endless source).
   */
  limit?: number;
}

/** @internal Spawn `fn(item)` as a member at once if that needs no wait; undefined otherwise. */
export type SpawnNow = <I, T>(fn: (item: I) => T | Promise<T>, item: I) => Greenlet<T> | undefined;

let setSpawnNow: (group: Group, spawnNow: SpawnNow) => void;

/** @internal Let a Pool start map items without going through its Promise-returning spawn(). */
export function useSpawnNow(group: Group, spawnNow: SpawnNow): void {
  setSpawnNow(group, spawnNow);
}

function checkFunction(fn: unknown, what: string): void {
  if (typeof fn !== 'function') {
    throw Object.assign(new TypeError(`${what} needs a function, got ${typeof fn}`), {
      code: 'ERR_INVALID_ARG_TYPE',
    });
  }
}

function checkLimit(limit: number): number {
  if (limit === Number.POSITIVE_INFINITY || (Number.isInteger(limit) && limit >= 1)) return limit;
  throw Object.assign(
    new RangeError(`map limit must be a positive integer or Infinity, got ${String(limit)}`),
    { code: 'ERR_OUT_OF_RANGE' },
  );
}

async function* valuesOf<R>(
  tasks: AsyncGenerator<{ greenlet: Greenlet<R | Failed> }>,
): AsyncGenerator<R, void, undefined> {
  for await (const task of tasks) yield resultOf(task.greenlet);
}

/**
 * What a `Group` and a `Pool` have in common: every Group member but `spawn`,
 * which on a Pool waits for a slot and so returns a Promise. Accept a
 * `GroupLike` where either will do.
 *
 * @example
 * async function stopAll(workers: GroupLike): Promise<void> { await workers.kill(); }
 */
export interface GroupLike extends Iterable<Greenlet<unknown>> {
  readonly size: number;
  readonly capacity: number;
  add(g: Greenlet<unknown>): void;
  discard(g: Greenlet<unknown>): void;
  has(g: Greenlet<unknown>): boolean;
  join(opts?: { timeout?: number; raiseError?: boolean; signal?: AbortSignal }): Promise<boolean>;
  kill(error?: unknown, opts?: { block?: boolean; timeout?: number; signal?: AbortSignal }): Promise<void>;
  map<I, R>(
    fn: (item: I) => R | Promise<R>,
    items: Iterable<I> | AsyncIterable<I>,
    opts?: MapOptions,
  ): Promise<R[]>;
  imap<I, R>(
    fn: (item: I) => R | Promise<R>,
    items: Iterable<I> | AsyncIterable<I>,
    opts?: MapOptions,
  ): AsyncGenerator<R, void, undefined>;
  imapUnordered<I, R>(
    fn: (item: I) => R | Promise<R>,
    items: Iterable<I> | AsyncIterable<I>,
    opts?: MapOptions,
  ): AsyncGenerator<R, void, undefined>;
  apply<A extends unknown[], R>(fn: (...args: A) => R | Promise<R>, args?: A): Promise<R>;
  toString(): string;
}

/**
 * A set of greenlets tracked together (gevent's `Group`): each member is
 * discarded when it ends; `join()` waits for all, `kill()` kills all, and
 * `map` / `imap` / `imapUnordered` / `apply` run functions as members.
 *
 * A Group has no size limit; `Pool` is the bounded one.
 *
 * @example
 * const group = new Group();
 * for (const url of urls) group.spawn(fetchPage, url);
 * await group.join({ timeout: 10_000, raiseError: true });
 */
export class Group implements GroupLike {
  readonly #members = new GroupMembers();
  #emptyWaiters = new WaitList<boolean | Greenlet<unknown>>();
  readonly #onEnd = (g: Greenlet<unknown>): void => {
    this.discard(g);
  };
  #spawnNow: SpawnNow | undefined;
  // On a Pool, spawn() returns a Promise (it may wait for a slot): spawnNow skips it when a slot is free.
  readonly #spawnMember: SpawnMember = (task, item) =>
    (this.#spawnNow?.(task, item) ?? this.spawn(task, item)) as
      | Greenlet<Awaited<ReturnType<typeof task>>>
      | Promise<Greenlet<Awaited<ReturnType<typeof task>>>>;

  static {
    setSpawnNow = (group, spawnNow) => {
      group.#spawnNow = spawnNow;
    };
  }

  /**
   * @param greenlets members to start with.
   */
  constructor(greenlets?: Iterable<Greenlet<unknown>>) {
    if (greenlets) for (const g of greenlets) this.add(g);
  }

  /** How many greenlets are members now. */
  get size(): number {
    return this.#members.size;
  }

  /** The most members at once: `Infinity` for a Group, the size of a Pool. */
  get capacity(): number {
    return Number.POSITIVE_INFINITY;
  }

  /**
   * Spawn `fn(...args)` as a member; it is discarded when it ends.
   * @returns the greenlet (already scheduled).
   * @example
   * const g = group.spawn(handle, socket);
   */
  spawn<A extends unknown[], T>(fn: (...args: A) => T | Promise<T>, ...args: A): Greenlet<T> {
    const g = spawnGreenlet(fn, ...args);
    this.add(g);
    return g;
  }

  /**
   * Track a greenlet (started or not) as a member until it ends; adding a member again does nothing.
   * @example
   * const g = new Greenlet(worker); group.add(g); g.start();
   */
  add(g: Greenlet<unknown>): void {
    if (!this.#members.add(g)) return;
    g.rawlink(this.#onEnd);
  }

  /**
   * Stop tracking a greenlet (it keeps running); unknown greenlets are ignored.
   * @example
   * group.discard(g);
   */
  discard(g: Greenlet<unknown>): void {
    if (!this.#members.delete(g)) return;
    g.unlink(this.#onEnd);
    if (this.#members.size === 0) this.#emptyWaiters.wakeAll(true);
  }

  /** True if `g` is a member. */
  has(g: Greenlet<unknown>): boolean {
    return this.#members.has(g);
  }

  /** The members at the time of the call, in the order they were added (later changes do not show). */
  [Symbol.iterator](): Iterator<Greenlet<unknown>> {
    return this.#members.toArray().values();
  }

  /**
   * Wait until the group is empty. Never throws because of the timeout.
   *
   * @param opts.timeout give up after this many ms.
   * @param opts.raiseError throw the error of the first member present now that fails
   *   (at once, as core's `joinall`; gevent waits for the rest first).
   * @param opts.signal abort the wait (it rejects with `signal.reason`).
   * @returns true once the group has been empty, false if `timeout` ran out first.
   * @example
   * if (!(await group.join({ timeout: 5000 }))) await group.kill();
   */
  async join(opts?: { timeout?: number; raiseError?: boolean; signal?: AbortSignal }): Promise<boolean> {
    const watched = opts?.raiseError ? this.#members.toArray() : undefined;
    if (this.#members.size > 0) {
      const waiter = new ListedWaiter<boolean | Greenlet<unknown>>('Group.join', undefined);
      this.#emptyWaiters.push(waiter);
      const onEnd = (g: Greenlet<unknown>): void => {
        if (!g.successful()) waiter.switch(g);
      };
      if (watched) for (const g of watched) g.rawlink(onEnd);
      try {
        const result = await waiter.get({
          timeout: opts?.timeout,
          signal: opts?.signal,
          timeoutValue: false,
        });
        if (result === false) return false;
        if (result instanceof Greenlet) throw result.exception;
      } finally {
        this.#emptyWaiters.remove(waiter);
        if (watched) for (const g of watched) g.unlink(onEnd);
      }
    }
    // The last member to end may have failed: it emptied the group before its failure was seen.
    if (watched) for (const g of watched) if (g.dead && !g.successful()) throw g.exception;
    return true;
  }

  /**
   * Kill every member, including any added meanwhile, and by default wait until the group is empty.
   *
   * @param error thrown into each member (default `GreenletExit`; a class gets a fresh instance each).
   * @param opts.block wait until the group is empty (default true), at most `timeout` ms —
   *   running out of time is not an error (gevent's semantics).
   * @example
   * await group.kill(undefined, { timeout: 2000 });
   */
  async kill(
    error: unknown = new GreenletExit(),
    opts?: { block?: boolean; timeout?: number; signal?: AbortSignal },
  ): Promise<void> {
    const deadline = opts?.timeout === undefined ? undefined : performance.now() + opts.timeout;
    while (this.#members.size > 0) {
      const targets: Greenlet<unknown>[] = [];
      for (const g of this.#members.toArray()) {
        if (this.#members.markDying(g)) targets.push(g);
      }
      if (targets.length > 0) await killall(targets, error, { block: false });
      if (opts?.block === false) return;
      const timeout = deadline === undefined ? undefined : Math.max(0, deadline - performance.now());
      if (!(await this.join({ timeout, signal: opts?.signal }))) return;
    }
  }

  /**
   * Run `fn(item)` for every item as members and collect the results in input order.
   *
   * @param opts.limit items in flight at once (default: `capacity`).
   * @returns the results, in input order.
   * @throws the first error of an item, in completion order (as `Promise.all`); the items
   *   still running are then killed. An error of the source itself is thrown too.
   * @example
   * const sizes = await new Pool(10).map(async (url: string) => (await fetch(url)).status, urls);
   */
  async map<I, R>(
    fn: (item: I) => R | Promise<R>,
    items: Iterable<I> | AsyncIterable<I>,
    opts?: MapOptions,
  ): Promise<R[]> {
    checkFunction(fn, 'map');
    const results: R[] = [];
    const limit = checkLimit(opts?.limit ?? this.capacity);
    const run = new MapRun(this.#spawnMember, this.#onEnd, fn, items, false, limit);
    try {
      for (;;) {
        await run.fill();
        for (let task = run.take(); task; task = run.take()) results[task.index] = resultOf(task.greenlet);
        if (run.done) return results;
        if (!run.canFill) await run.waitForOne();
      }
    } finally {
      await run.close();
    }
  }

  /**
   * Run `fn(item)` for every item as members, yielding results in input order.
   * Items are read from the source only as room frees up (see `MapOptions.limit`),
   * so an endless or slow source is never read ahead.
   *
   * @param opts.limit items in flight at once (default: `capacity`).
   * @returns an async iterable of the results. An item's error is thrown at its
   *   position and ends the iteration; ending it early (`break`) kills the items in flight.
   * @throws TypeError (`ERR_INVALID_ARG_TYPE`) at once if `fn` is not a function.
   * @example
   * for await (const page of pool.imap(fetchPage, urls)) save(page);
   */
  imap<I, R>(
    fn: (item: I) => R | Promise<R>,
    items: Iterable<I> | AsyncIterable<I>,
    opts?: MapOptions,
  ): AsyncGenerator<R, void, undefined> {
    checkFunction(fn, 'imap');
    const limit = checkLimit(opts?.limit ?? this.capacity);
    return valuesOf(tasksOf(new MapRun(this.#spawnMember, this.#onEnd, fn, items, true, limit)));
  }

  /**
   * Like `imap`, but yields each result as soon as it is ready (completion order).
   *
   * @param opts.limit items in flight at once (default: `capacity`).
   * @returns an async iterable of the results; an item's error is thrown when it completes.
   * @throws TypeError (`ERR_INVALID_ARG_TYPE`) at once if `fn` is not a function.
   * @example
   * for await (const reply of pool.imapUnordered(ping, hosts)) console.log(reply);
   */
  imapUnordered<I, R>(
    fn: (item: I) => R | Promise<R>,
    items: Iterable<I> | AsyncIterable<I>,
    opts?: MapOptions,
  ): AsyncGenerator<R, void, undefined> {
    checkFunction(fn, 'imapUnordered');
    const limit = checkLimit(opts?.limit ?? this.capacity);
    return valuesOf(tasksOf(new MapRun(this.#spawnMember, this.#onEnd, fn, items, false, limit)));
  }

  /**
   * Call `fn(...args)` as a member and return its result. Called from a member
   * of this group, it runs `fn` inline instead, so a full Pool cannot deadlock on itself.
   *
   * @returns what `fn` returns.
   * @throws what `fn` throws.
   * @example
   * const row = await pool.apply(query, ['SELECT 1']);
   */
  async apply<A extends unknown[], R>(fn: (...args: A) => R | Promise<R>, args?: A): Promise<R> {
    checkFunction(fn, 'apply');
    const list = (args ?? []) as A;
    if (this.#members.has(getcurrent())) return await fn(...list);
    const spawned = this.#spawnMember(
      catching((a: A) => fn(...a), fn.name || 'apply'),
      list,
    ) as Greenlet<R | Failed> | Promise<Greenlet<R | Failed>>;
    const g = spawned instanceof Greenlet ? spawned : await spawned;
    await g.join();
    return resultOf(g);
  }

  /** `Group(size=3)`. */
  toString(): string {
    return `${this.constructor.name}(size=${this.#members.size})`;
  }

  /** What `console.log` and `util.inspect` show: the same as `toString()`. */
  [inspect.custom](): string {
    return this.toString();
  }
}
