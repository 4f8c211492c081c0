import { HeapStore } from './internal/queue-heap.js';
import { configureQueue, Queue } from './queue.js';

/** Ascending order for numbers, strings and bigints (`<` / `>`). */
function ascending<T>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A queue that returns the lowest item first, by `compare` (gevent's
 * `PriorityQueue`), kept in a binary heap: O(log n) `put` and `get`.
 *
 * Items that compare equal come out in the order they were put (FIFO among
 * equals) — unlike Python's `heapq`, which leaves their order unspecified, so
 * no `(priority, counter, item)` tuples are needed.
 *
 * @typeParam T the items' type.
 * @example
 * const tasks = new PriorityQueue<{ prio: number; name: string }>(undefined, (a, b) => a.prio - b.prio);
 * tasks.putNowait({ prio: 2, name: 'later' });
 * tasks.putNowait({ prio: 1, name: 'first' });
 * tasks.getNowait().name; // 'first'
 */
export class PriorityQueue<T> extends Queue<T> {
  /**
   * @param maxsize how many items it holds before `put()` waits; omit for no limit.
   * @param compare negative when `a` comes before `b`, as for `Array.prototype.sort`; the default
   *   orders numbers, strings and bigints ascending (pass one for objects).
   * @throws RangeError (`ERR_OUT_OF_RANGE`) as `Queue`.
   */
  constructor(maxsize?: number, compare: (a: T, b: T) => number = ascending) {
    super(maxsize);
    if (typeof compare !== 'function') {
      throw Object.assign(new TypeError(`PriorityQueue compare must be a function, got ${typeof compare}`), {
        code: 'ERR_INVALID_ARG_TYPE',
      });
    }
    configureQueue<T>(this, { store: new HeapStore<T>(compare) });
  }
}
