import { configureQueue, Queue } from './queue.js';

/**
 * A rendezvous between greenlets: `put()` waits until a getter takes the item,
 * and `get()` waits for a putter. It holds no items, so `qsize()` is 0 and
 * both `empty()` and `full()` are true (gevent's `Channel`); `maxsize` is 0.
 *
 * `putNowait()` succeeds only when a greenlet is already waiting in `get()`,
 * and `getNowait()` only when one is waiting in `put()`; `peek()` shows the
 * item of the first waiting putter. `shutdown()` wakes every waiting putter
 * with `QueueShutDown` (their items are not delivered).
 *
 * Difference from eventlet: there `Queue(0)` is a channel; here it throws.
 *
 * @typeParam T the items' type.
 * @example
 * const ch = new Channel<string>();
 * spawn(async () => console.log(await ch.get()));
 * await ch.put('hello');    // returns once the other greenlet has the item
 */
export class Channel<T> extends Queue<T> {
  /** An open channel with nobody waiting. */
  constructor() {
    super();
    configureQueue<T>(this, { maxsize: 0 });
  }
}
