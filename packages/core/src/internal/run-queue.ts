import { getHub } from '../registry.js';
import { reportError } from '../report-error.js';

/** Something the run queue calls: a greenlet to start or whose links to fire. */
export interface Runnable {
  _runQueued(): void;
}

/**
 * Core's own FIFO of work for the next hub turn: greenlet starts, link
 * firings and `sleep(0)` wake-ups. One hub callback drains a whole batch, so
 * spawning 100k greenlets costs one hub callback, not 100k. Work queued while
 * a batch runs goes to the next turn, so I/O is never starved.
 */
let queue: Array<Runnable | (() => void)> = [];
let scheduled = false;

function drain(): void {
  scheduled = false;
  const batch = queue;
  queue = [];
  for (let i = 0; i < batch.length; i++) {
    const item = batch[i]!;
    try {
      if (typeof item === 'function') item();
      else item._runQueued();
    } catch (err) {
      reportError(err, 'queued callback');
    }
  }
}

/** Run `item` on a later hub turn, after everything queued before it. */
export function enqueue(item: Runnable | (() => void)): void {
  queue.push(item);
  if (!scheduled) {
    scheduled = true;
    // Hub callbacks run outside any greenlet (the contract): rawlink callbacks see `main`, as gevent's see the hub.
    getHub().callback(drain);
  }
}

/** @internal Forget queued work (the hub it was scheduled on was closed). */
export function resetRunQueue(): void {
  queue = [];
  scheduled = false;
}
