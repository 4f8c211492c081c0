import { activityCount } from './internal/activity.js';
import { getHub } from './registry.js';
import { Waiter } from './waiter.js';

/**
 * Pause the current greenlet for `ms` milliseconds (default 0).
 *
 * `sleep(0)` yields: every other greenlet and callback that is ready runs
 * before it returns. Like every greenhub wait, it is interrupted by `kill()`,
 * a firing `Timeout` or `opts.signal`.
 *
 * @example
 * while (!done) { poll(); await sleep(100); }
 */
export async function sleep(ms = 0, opts?: { signal?: AbortSignal }): Promise<void> {
  if (!(ms >= 0)) {
    throw Object.assign(new RangeError(`sleep(ms) needs ms >= 0, got ${ms}`), { code: 'ERR_OUT_OF_RANGE' });
  }
  const waiter = new Waiter<void>('sleep');
  if (ms === 0) {
    // A hub callback of its own, not the run queue: a batch scheduled earlier could run it ahead of
    // hub callbacks scheduled since, and sleep(0) must come after every one of them (gevent's FIFO).
    const handle = getHub().callback(() => {
      waiter.switch();
    });
    try {
      await waiter.get(opts);
    } finally {
      handle.cancel();
    }
    return;
  }
  await waiter.get({ timeout: ms, timeoutValue: undefined, signal: opts?.signal });
}

/**
 * Resume when the hub has nothing else to run: a whole turn passes in which
 * no other greenlet started or woke up.
 *
 * @example
 * spawn(worker); await idle();   // worker has run until its first real wait
 */
export async function idle(opts?: { signal?: AbortSignal }): Promise<void> {
  for (;;) {
    const before = activityCount();
    await sleep(0, opts);
    // Our own wake-up counts once.
    if (activityCount() === before + 1) return;
  }
}
