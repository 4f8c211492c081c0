import type { Waitable } from './greenlet.js';
import { getHub } from './registry.js';
import { Waiter } from './waiter.js';

const TIMED_OUT: unique symbol = Symbol('timedOut');

/**
 * Wait for objects (greenlets, events, results...) to become ready.
 *
 * With objects: resolves with the ready ones in the order they became ready,
 * after `count` of them (default all) or when `timeout` runs out — never
 * throws on timeout. Without objects: resolves (with `[]`) once the process
 * has nothing left to do (Node's `beforeExit`), gevent's `wait()`.
 *
 * @example
 * const [first] = await wait([a, b, c], { count: 1 });
 */
export async function wait(
  objects?: Iterable<Waitable>,
  opts?: { timeout?: number; count?: number; signal?: AbortSignal },
): Promise<Waitable[]> {
  if (objects === undefined) {
    await loopDrained(opts?.timeout, opts?.signal);
    return [];
  }
  const ready: Waitable[] = [];
  for await (const object of iwait(objects, opts)) ready.push(object);
  return ready;
}

/**
 * Yield objects as they become ready, up to `count` (default all), until
 * `timeout` runs out. Breaking out of the loop unlinks everything.
 *
 * @example
 * for await (const g of iwait(greenlets)) console.log(g.name, 'ended');
 */
export async function* iwait<W extends Waitable>(
  objects: Iterable<W>,
  opts?: { timeout?: number; count?: number; signal?: AbortSignal },
): AsyncGenerator<W, void, undefined> {
  const list = [...objects];
  const limit = Math.min(opts?.count ?? list.length, list.length);
  const queue: W[] = [];
  let waiter: Waiter<void> | undefined;
  const onReady = (object: W): void => {
    queue.push(object);
    waiter?.switch();
  };
  for (const object of list) object.rawlink(onReady);
  const deadline = opts?.timeout === undefined ? undefined : performance.now() + opts.timeout;
  try {
    for (let given = 0; given < limit; given++) {
      if (queue.length === 0) {
        waiter = new Waiter<void>('iwait');
        const timeout = deadline === undefined ? undefined : Math.max(0, deadline - performance.now());
        const outcome = await waiter.get({ timeout, timeoutValue: TIMED_OUT, signal: opts?.signal });
        waiter = undefined;
        if (outcome === TIMED_OUT) return;
      }
      yield queue.shift()!;
    }
  } finally {
    for (const object of list) object.unlink(onReady);
  }
}

let drainWaits = 0;

/** @internal How many `wait()` calls (without objects) are waiting for the loop to drain. */
export function pendingDrainWaits(): number {
  return drainWaits;
}

async function loopDrained(timeout?: number, signal?: AbortSignal): Promise<void> {
  const waiter = new Waiter<void>('wait (until the loop is empty)');
  const wake = (): void => {
    waiter.switch();
  };
  process.once('beforeExit', wake);
  // The deadline must not itself keep the loop busy, or beforeExit could never come.
  const timer = timeout === undefined ? undefined : getHub().timer(timeout);
  timer?.unref();
  timer?.start(wake);
  drainWaits++;
  try {
    await waiter.get({ signal });
  } finally {
    drainWaits--;
    process.off('beforeExit', wake);
    timer?.close();
  }
}
