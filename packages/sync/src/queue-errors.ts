/**
 * Thrown by `get()` / `getNowait()` / `peek()` when no item is there: with
 * `block: false`, or when `timeout` runs out (gevent's `queue.Empty`, not a
 * `Timeout`). Code `'ERR_QUEUE_EMPTY'`.
 *
 * @example
 * try { job = queue.getNowait(); } catch (err) { if (!(err instanceof QueueEmpty)) throw err; }
 */
export class QueueEmpty extends Error {
  override name = 'QueueEmpty';
  readonly code: string = 'ERR_QUEUE_EMPTY';
  /** @param message what was waited for and how to wait instead. */
  constructor(message = 'the queue is empty: wait for an item with get(), or check empty() first') {
    super(message);
  }
}

/**
 * Thrown by `put()` / `putNowait()` when there is no room: with
 * `block: false`, or when `timeout` runs out (gevent's `queue.Full`, not a
 * `Timeout`). Code `'ERR_QUEUE_FULL'`.
 *
 * @example
 * try { queue.putNowait(job); } catch (err) { if (err instanceof QueueFull) dropped++; else throw err; }
 */
export class QueueFull extends Error {
  override name = 'QueueFull';
  readonly code: string = 'ERR_QUEUE_FULL';
  /** @param message what was waited for and how to wait instead. */
  constructor(message = 'the queue is full: wait for room with put(), or check full() first') {
    super(message);
  }
}

/**
 * Thrown by a queue after `shutdown()`: by every `put()`, by `get()` once the
 * queue is empty (at once after `shutdown(true)`), and into every greenlet
 * blocked on the queue (Python 3.13's `queue.ShutDown`). Code
 * `'ERR_QUEUE_SHUTDOWN'`.
 *
 * @example
 * for (;;) {
 *   let job;
 *   try { job = await queue.get(); } catch (err) { if (err instanceof QueueShutDown) break; throw err; }
 *   await handle(job);
 * }
 */
export class QueueShutDown extends Error {
  override name = 'QueueShutDown';
  readonly code: string = 'ERR_QUEUE_SHUTDOWN';
  /** @param message what was attempted. */
  constructor(message = 'the queue was shut down: no more items can be put, and none are left to get') {
    super(message);
  }
}
