import { WaitList } from './internal/queue-waiters.js';
import { configureQueue, Queue } from './queue.js';

/**
 * A queue that also counts unfinished tasks: each item put adds one, each
 * `taskDone()` removes one, and `join()` waits until none are left (gevent's
 * `JoinableQueue`, Python's `queue.Queue`).
 *
 * `shutdown(true)` counts the items it drops as done (Python 3.13), so `join()`
 * returns once the items already taken are marked done.
 *
 * @typeParam T the items' type.
 * @example
 * const q = new JoinableQueue<string>();
 * for (let i = 0; i < 4; i++) spawn(async () => { for await (const url of q) { await fetchPage(url); q.taskDone(); } });
 * for (const url of urls) await q.put(url);
 * await q.join();           // every url fetched
 * q.shutdown();
 */
export class JoinableQueue<T> extends Queue<T> {
  #unfinished = 0;
  #joiners = new WaitList<boolean>();

  /**
   * @param maxsize how many items it holds before `put()` waits; omit for no limit.
   * @throws RangeError (`ERR_OUT_OF_RANGE`) as `Queue`.
   */
  constructor(maxsize?: number) {
    super(maxsize);
    configureQueue<T>(this, {
      onAccepted: () => {
        this.#unfinished++;
      },
      onDropped: (count) => {
        this.#unfinished = Math.max(0, this.#unfinished - count);
        if (this.#unfinished === 0) this.#joiners.wakeAll(true);
      },
    });
  }

  /** Items put and not yet marked done with `taskDone()`. */
  get unfinishedTasks(): number {
    return this.#unfinished;
  }

  /**
   * Mark one item taken from the queue as processed; the last one releases `join()`.
   * @throws Error (`ERR_QUEUE_TASK_DONE`) when called more times than items were put.
   * @example
   * const job = await q.get();
   * try { await handle(job); } finally { q.taskDone(); }
   */
  taskDone(): void {
    if (this.#unfinished <= 0) {
      throw Object.assign(
        new Error('taskDone() called more times than items were put: call it once per item taken'),
        { code: 'ERR_QUEUE_TASK_DONE' },
      );
    }
    if (--this.#unfinished === 0) this.#joiners.wakeAll(true);
  }

  /**
   * Wait until every item put has been marked done. Never throws because of
   * the timeout (only an aborted `signal`, a kill or a Timeout aimed at the caller).
   *
   * @param timeout give up after this many ms.
   * @param opts.signal abort the wait (it rejects with `signal.reason`).
   * @returns true when no task is left, false if `timeout` ran out first.
   * @example
   * if (!(await q.join(10_000))) console.warn(`${q.unfinishedTasks} tasks still running`);
   */
  async join(timeout?: number, opts?: { signal?: AbortSignal }): Promise<boolean> {
    if (this.#unfinished === 0) return true;
    return this.#joiners.parkOr('Queue.join', undefined, {
      timeout,
      signal: opts?.signal,
      timeoutValue: false,
    });
  }
}
