import { GreenletExit } from './errors.js';
import type { Greenlet } from './greenlet.js';
import { Timeout } from './timeout.js';
import { Waiter } from './waiter.js';

/**
 * Wait for greenlets to end.
 *
 * @param opts.timeout stop waiting after this many ms (no error: fewer greenlets are returned).
 * @param opts.raiseError throw the error of the first greenlet to fail (in completion order).
 * @param opts.count return once this many have ended.
 * @returns the greenlets that ended, in the order they ended.
 * @example
 * const done = await joinall(urls.map((u) => spawn(fetchPage, u)), { timeout: 5000 });
 */
export async function joinall<G extends Greenlet<unknown>>(
  greenlets: Iterable<G>,
  opts?: { timeout?: number; raiseError?: boolean; count?: number; signal?: AbortSignal },
): Promise<G[]> {
  const list = [...greenlets];
  const target = Math.min(opts?.count ?? list.length, list.length);
  const done: G[] = [];
  if (target <= 0) return done;
  const raiseError = opts?.raiseError === true;
  const waiter = new Waiter<G | null>('joinall');
  const onEnd = (g: G): void => {
    done.push(g);
    if (raiseError && !g.successful()) waiter.switch(g);
    else if (done.length >= target) waiter.switch(null);
  };
  for (const g of list) g.rawlink(onEnd as (g: Greenlet<unknown>) => void);
  try {
    const failed = await waiter.get({ timeout: opts?.timeout, timeoutValue: null, signal: opts?.signal });
    if (failed) throw failed.exception;
  } finally {
    for (const g of list) g.unlink(onEnd);
  }
  return done;
}

/**
 * Kill greenlets: the unstarted never run, the rest get `error` (default
 * `GreenletExit`) at their current or next wait.
 *
 * @param opts.block wait for all of them to end (default true).
 * @throws `Timeout` if `block` and some are still alive after `timeout` ms.
 */
export async function killall(
  greenlets: Iterable<Greenlet<unknown>>,
  error: unknown = new GreenletExit(),
  opts?: { block?: boolean; timeout?: number; signal?: AbortSignal },
): Promise<void> {
  const list = [...greenlets];
  if (typeof error === 'function') error = new (error as new () => unknown)();
  for (const g of list) g._killNow(error);
  if (opts?.block === false) return;
  const alive = list.filter((g) => !g.dead);
  if (alive.length === 0) return;
  const ended = await joinall(alive, { timeout: opts?.timeout, signal: opts?.signal });
  if (ended.length < alive.length) {
    throw new Timeout(
      opts?.timeout,
      `killall: ${alive.length - ended.length} greenlet(s) still alive after ${opts?.timeout} ms`,
    );
  }
}
