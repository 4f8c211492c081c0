import { inspect } from 'node:util';
import { FifoStore, type ItemStore, LifoStore } from './internal/queue-store.js';
import { WaitList } from './internal/queue-waiters.js';
import { QueueEmpty, QueueFull, QueueShutDown } from './queue-errors.js';

/** Options of a queue call that may wait. */
export interface QueueWaitOptions {
  /** Wait for an item (or for room) if needed (default true); false throws at once instead. */
  block?: boolean;
  /** Give up after this many ms with `QueueEmpty` / `QueueFull` (`undefined` = no limit). */
  timeout?: number;
  /** Abort the wait; it rejects with `signal.reason`, as Node's APIs do. */
  signal?: AbortSignal;
}

/** @internal What the queue classes of this package change in the base Queue. */
export interface QueueInternals<T> {
  store?: ItemStore<T>;
  maxsize?: number;
  /** An item was accepted: stored or handed straight to a getter. */
  onAccepted?: () => void;
  /** `shutdown(true)` dropped this many stored items. */
  onDropped?: (count: number) => void;
}

const TIMED_OUT: unique symbol = Symbol('greenhub.queueTimedOut');
const NONE: unique symbol = Symbol('greenhub.queueNone');
const RESOLVED: Promise<void> = Promise.resolve();

let configure: <T>(queue: Queue<T>, parts: QueueInternals<T>) => void;

/** @internal Plug a store, a size or hooks into a queue (LifoQueue, PriorityQueue, JoinableQueue, Channel). */
export function configureQueue<T>(queue: Queue<T>, parts: QueueInternals<T>): void {
  configure(queue, parts);
}

function checkMaxsize(maxsize: number | undefined): number {
  if (maxsize === undefined || maxsize === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  if (maxsize === 0) {
    throw Object.assign(
      new RangeError(
        'new Queue(0) is ambiguous (unbounded in gevent and Python, a rendezvous in eventlet): ' +
          'use new Channel() for a queue whose put() waits for a get(), or omit maxsize for an unbounded queue',
      ),
      { code: 'ERR_OUT_OF_RANGE' },
    );
  }
  if (!Number.isInteger(maxsize) || maxsize < 0) {
    throw Object.assign(
      new RangeError(
        `Queue maxsize must be a positive integer or Infinity (omit it for no limit), got ${String(maxsize)}`,
      ),
      { code: 'ERR_OUT_OF_RANGE' },
    );
  }
  return maxsize;
}

/**
 * A FIFO queue between greenlets — gevent's `Queue` with Python 3.13's
 * `shutdown()`. Blocked getters and putters are served first come, first
 * served; a blocked `put()` hands its item over as soon as there is room, and
 * a `put()` with a getter waiting hands the item straight to it.
 *
 * Every wait takes `{ block, timeout, signal }` and ends cleanly on a timeout,
 * an abort or a kill: a later `put()` is received by a later `get()`, never
 * lost to a cancelled one. As in gevent, running out of time throws
 * `QueueEmpty` / `QueueFull`, not `Timeout`.
 *
 * Differences from gevent: `maxsize` is fixed at construction, `Infinity` when
 * unbounded; `new Queue(0)` throws (use `Channel`); iteration ends at
 * `shutdown()` rather than at a `StopIteration` item.
 *
 * @typeParam T the items' type.
 * @example
 * const jobs = new Queue<string>(100);
 * spawn(async () => { for await (const job of jobs) await handle(job); });
 * await jobs.put('resize:42');
 * jobs.shutdown();            // the consumer drains what is left, then its loop ends
 */
export class Queue<T> implements AsyncIterable<T> {
  #store: ItemStore<T> = new FifoStore<T>();
  #maxsize: number;
  #getters = new WaitList<T>();
  #peekers = new WaitList<T>();
  #putters = new WaitList<void, T>();
  #shutdown = false;
  #onAccepted: (() => void) | undefined;
  #onDropped: ((count: number) => void) | undefined;

  static {
    configure = <T>(queue: Queue<T>, parts: QueueInternals<T>): void => {
      if (parts.store) queue.#store = parts.store;
      if (parts.maxsize !== undefined) queue.#maxsize = parts.maxsize;
      if (parts.onAccepted) queue.#onAccepted = parts.onAccepted;
      if (parts.onDropped) queue.#onDropped = parts.onDropped;
    };
  }

  /**
   * @param maxsize how many items the queue holds before `put()` waits; omit (or `Infinity`) for no limit.
   * @throws RangeError (`ERR_OUT_OF_RANGE`) for 0 — use `Channel` — or a negative or fractional size.
   */
  constructor(maxsize?: number) {
    this.#maxsize = checkMaxsize(maxsize);
  }

  /** The most items the queue holds; `Infinity` when unbounded, 0 for a `Channel`. */
  get maxsize(): number {
    return this.#maxsize;
  }

  /** How many items are in the queue now (a `Channel` holds none: always 0). */
  qsize(): number {
    return this.#store.size;
  }

  /** True when `qsize()` is 0. */
  empty(): boolean {
    return this.#store.size === 0;
  }

  /** True when `qsize()` has reached `maxsize` (always, for a `Channel`). */
  full(): boolean {
    return this.#store.size >= this.#maxsize;
  }

  /** True once `shutdown()` was called. */
  get isShutdown(): boolean {
    return this.#shutdown;
  }

  /**
   * Add an item, waiting for room if the queue is full.
   *
   * @param item the item.
   * @param opts `block: false` throws at once instead of waiting; `timeout` in ms; `signal` aborts.
   * @throws QueueFull when there is no room with `block: false`, or none came within `timeout`;
   *   QueueShutDown after `shutdown()`, including while waiting; `signal.reason`; a kill or Timeout aimed at the caller.
   * @example
   * await queue.put(job, { timeout: 1000 });
   */
  put(item: T, opts?: QueueWaitOptions): Promise<void> {
    try {
      if (this.#offer(item)) return RESOLVED;
      if (opts?.block === false) {
        throw new QueueFull(
          `the queue is full (${this.#maxsize} items) and put() was called with block: false`,
        );
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#waitToPut(item, opts);
  }

  /**
   * Add an item if there is room now (or, for a `Channel`, a getter waiting).
   * @throws QueueFull when there is no room; QueueShutDown after `shutdown()`.
   * @example
   * queue.putNowait(event);
   */
  putNowait(item: T): void {
    if (!this.#offer(item)) {
      throw new QueueFull(
        this.#maxsize === 0
          ? 'putNowait() on a Channel needs a greenlet waiting in get(): use await put() to wait for one'
          : `the queue is full (${this.#maxsize} items): use await put() to wait for room`,
      );
    }
  }

  /**
   * Remove and return the next item, waiting for one if the queue is empty.
   *
   * @param opts `block: false` throws at once instead of waiting; `timeout` in ms; `signal` aborts.
   * @returns the item.
   * @throws QueueEmpty when there is no item with `block: false`, or none came within `timeout`;
   *   QueueShutDown once the queue is shut down and empty; `signal.reason`; a kill or Timeout aimed at the caller.
   * @example
   * const job = await queue.get({ timeout: 5000 });
   */
  get(opts?: QueueWaitOptions): Promise<T> {
    let item: T | typeof NONE;
    try {
      item = this.#take();
      if (item === NONE && opts?.block === false) {
        throw new QueueEmpty('the queue is empty and get() was called with block: false');
      }
    } catch (err) {
      return Promise.reject(err);
    }
    if (item !== NONE) return Promise.resolve(item);
    return this.#wait(this.#getters, 'Queue.get', opts);
  }

  /**
   * Remove and return the next item if there is one now.
   * @returns the item.
   * @throws QueueEmpty when there is none; QueueShutDown once shut down and empty.
   * @example
   * const pending: Job[] = [];
   * while (!queue.empty()) pending.push(queue.getNowait());
   */
  getNowait(): T {
    const item = this.#take();
    if (item === NONE) throw new QueueEmpty('the queue is empty: use await get() to wait for an item');
    return item;
  }

  /**
   * Return the next item without removing it, waiting for one if the queue is empty.
   *
   * @param opts as for `get()`.
   * @returns the item `get()` would return now.
   * @throws as `get()`.
   * @example
   * const next = await queue.peek({ timeout: 100 });
   */
  peek(opts?: QueueWaitOptions): Promise<T> {
    let item: T | typeof NONE;
    try {
      item = this.#look();
      if (item === NONE && opts?.block === false) {
        throw new QueueEmpty('the queue is empty and peek() was called with block: false');
      }
    } catch (err) {
      return Promise.reject(err);
    }
    if (item !== NONE) return Promise.resolve(item);
    return this.#wait(this.#peekers, 'Queue.peek', opts);
  }

  /**
   * Return the next item without removing it, if there is one now.
   * @returns the item.
   * @throws QueueEmpty when there is none; QueueShutDown once shut down and empty.
   * @example
   * if (!queue.empty()) console.log('next up:', queue.peekNowait());
   */
  peekNowait(): T {
    const item = this.#look();
    if (item === NONE) throw new QueueEmpty('the queue is empty: use await peek() to wait for an item');
    return item;
  }

  /**
   * Shut the queue down (Python 3.13): every later `put()` and every blocked
   * putter throws `QueueShutDown`; `get()` still returns the items left, then
   * throws `QueueShutDown`, and blocked getters are woken with it.
   *
   * @param immediate also drop the items left, so getters throw at once (a
   *   `JoinableQueue` counts them as done). Calling again with `true` later is allowed.
   * @example
   * queue.shutdown();         // producers stop; consumers finish the backlog
   * queue.shutdown(true);     // and now drop what is left
   */
  shutdown(immediate = false): void {
    this.#shutdown = true;
    if (immediate && this.#store.size > 0) {
      const dropped = this.#store.size;
      this.#store.clear();
      this.#onDropped?.(dropped);
    }
    this.#putters.throwAll(
      () => new QueueShutDown('the queue was shut down while put() waited for room; the item was not added'),
    );
    if (this.#store.size === 0) {
      const ended = (): QueueShutDown =>
        new QueueShutDown('the queue was shut down and no items are left: stop reading from it');
      this.#getters.throwAll(ended);
      this.#peekers.throwAll(ended);
    }
  }

  /**
   * Iterate over items as they come (each one removed as with `get()`); the
   * iteration ends once the queue is shut down and empty.
   * @example
   * for await (const line of lines) console.log(line);
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      let item: T;
      try {
        item = await this.get();
      } catch (err) {
        if (err instanceof QueueShutDown) return;
        throw err;
      }
      yield item;
    }
  }

  /** `Queue(maxsize=10, qsize=3, getters=0, putters=0)`. */
  toString(): string {
    const max = this.#maxsize === Number.POSITIVE_INFINITY ? 'Infinity' : this.#maxsize;
    const shut = this.#shutdown ? ', shut down' : '';
    return `${this.constructor.name}(maxsize=${max}, qsize=${this.#store.size}, getters=${this.#getters.length}, putters=${this.#putters.length}${shut})`;
  }

  /** What `console.log` and `util.inspect` show: the same as `toString()`. */
  [inspect.custom](): string {
    return this.toString();
  }

  // ---- the hand-off rules ------------------------------------------------------------------------------

  /** Hand `item` to a waiting getter, or store it if there is room. */
  #offer(item: T): boolean {
    if (this.#shutdown) {
      throw new QueueShutDown('put() on a queue that was shut down: the item was not added');
    }
    if (this.#peekers.length > 0 && this.#store.size === 0) this.#peekers.wakeAll(item);
    if (this.#getters.length > 0 && this.#getters.wakeOne(item)) {
      this.#onAccepted?.();
      return true;
    }
    if (this.#store.size < this.#maxsize) {
      this.#store.push(item);
      this.#onAccepted?.();
      return true;
    }
    return false;
  }

  /** The next item (refilling from blocked putters), or NONE. */
  #take(): T | typeof NONE {
    const store = this.#store;
    if (store.size > 0) {
      const item = store.take();
      if (this.#putters.length > 0) this.#admitPutters();
      return item;
    }
    if (this.#putters.length > 0) {
      // Only a Channel gets here: its putters hand their items over directly.
      const entry = this.#putters.wakeOne(undefined);
      if (entry) {
        this.#onAccepted?.();
        return entry.item;
      }
    }
    if (this.#shutdown) {
      throw new QueueShutDown('the queue was shut down and no items are left: stop reading from it');
    }
    return NONE;
  }

  #look(): T | typeof NONE {
    if (this.#store.size > 0) return this.#store.peek();
    // Waiters leave the list as soon as they are settled: the first one is still waiting.
    const putter = this.#putters.first;
    if (putter) return putter.item;
    if (this.#shutdown) {
      throw new QueueShutDown('the queue was shut down and no items are left: stop reading from it');
    }
    return NONE;
  }

  #admitPutters(): void {
    const store = this.#store;
    while (store.size < this.#maxsize) {
      const entry = this.#putters.wakeOne(undefined);
      if (!entry) return;
      store.push(entry.item);
      this.#onAccepted?.();
    }
  }

  #wait(list: WaitList<T>, kind: string, opts: QueueWaitOptions | undefined): Promise<T> {
    if (opts?.timeout === undefined) return list.park(kind, undefined, opts);
    return this.#waitTimed(list, kind, opts.timeout, opts.signal);
  }

  async #waitTimed(list: WaitList<T>, kind: string, timeout: number, signal?: AbortSignal): Promise<T> {
    const item = await list.parkOr<typeof TIMED_OUT>(kind, undefined, {
      timeout,
      signal,
      timeoutValue: TIMED_OUT,
    });
    if (item === TIMED_OUT) throw new QueueEmpty(`no item arrived within ${timeout} ms`);
    return item;
  }

  #waitToPut(item: T, opts: QueueWaitOptions | undefined): Promise<void> {
    if (opts?.timeout === undefined) return this.#putters.park('Queue.put', item, opts);
    return this.#waitToPutTimed(item, opts.timeout, opts.signal);
  }

  async #waitToPutTimed(item: T, timeout: number, signal?: AbortSignal): Promise<void> {
    const result = await this.#putters.parkOr<typeof TIMED_OUT>('Queue.put', item, {
      timeout,
      signal,
      timeoutValue: TIMED_OUT,
    });
    if (result === TIMED_OUT) {
      throw new QueueFull(
        this.#maxsize === 0
          ? `no greenlet took the item from the Channel within ${timeout} ms`
          : `no room in the queue within ${timeout} ms`,
      );
    }
  }
}

/**
 * A queue that returns the most recently put item first (gevent's `LifoQueue`).
 *
 * @typeParam T the items' type.
 * @example
 * const stack = new LifoQueue<number>();
 * stack.putNowait(1); stack.putNowait(2);
 * stack.getNowait(); // 2
 */
export class LifoQueue<T> extends Queue<T> {
  /**
   * @param maxsize how many items it holds before `put()` waits; omit for no limit.
   * @throws RangeError (`ERR_OUT_OF_RANGE`) as `Queue`.
   */
  constructor(maxsize?: number) {
    super(maxsize);
    configureQueue<T>(this, { store: new LifoStore<T>() });
  }
}
