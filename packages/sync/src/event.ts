import type { Waitable, Waiter } from '@greenhub/core';
import { LinkList } from './internal/locks-links.js';
import { RESOLVED_TRUE } from './internal/locks-settled.js';
import { WaiterQueue, waitInQueue } from './internal/locks-waiter-queue.js';

/**
 * A flag greenlets can wait for: `set()` wakes every waiter, `clear()` resets
 * it — gevent's `Event` (Python's `threading.Event`).
 *
 * `wait()` never throws because of its own timeout: it returns false. Waiters
 * wake in the order they started waiting. An Event is a `Waitable` (for
 * `wait()`/`iwait()`), but not a thenable: use `await event.wait()`.
 *
 * @example
 * const ready = new Event();
 * spawn(async () => { await connectToDb(); ready.set(); });
 * if (!(await ready.wait(5000))) throw new Error('database not ready after 5 s');
 */
export class Event implements Waitable {
  #flag = false;
  readonly #waiters = new WaiterQueue<Waiter<boolean>>();
  readonly #links = new LinkList<this>(this, () => 'Event');

  /**
   * Set the flag and wake every waiting greenlet; `rawlink` callbacks run on a
   * later hub turn. Setting an Event that is already set does nothing.
   *
   * @example
   * done.set();
   */
  set(): void {
    if (this.#flag) return;
    this.#flag = true;
    // Each waiter is told true now, so a clear() before it resumes does not undo its wake-up (gevent).
    for (const waiter of this.#waiters.takeAll()) waiter.switch(true);
    this.#links.notify();
  }

  /**
   * Reset the flag: later `wait()` calls block until the next `set()`.
   *
   * @example
   * tick.set(); tick.clear();   // waiters blocked before set() still wake with true
   */
  clear(): void {
    this.#flag = false;
  }

  /**
   * Whether the flag is set.
   * @returns true between `set()` and `clear()`.
   * @example
   * if (!stopping.isSet()) await work();
   */
  isSet(): boolean {
    return this.#flag;
  }

  /**
   * Same as `isSet()`: the `Waitable` view of the flag.
   * @returns true while the flag is set.
   * @example
   * await wait([event, greenlet], { count: 1 });
   */
  ready(): boolean {
    return this.#flag;
  }

  /**
   * Wait until the flag is set, at most `timeout` ms.
   *
   * @param timeout ms to wait; undefined waits without limit.
   * @param opts.signal abort the wait: it rejects with `signal.reason`.
   * @returns true if the flag was set (even if cleared again before this
   *   greenlet resumed), false if `timeout` ran out — never throws on timeout.
   * @throws the error of a `kill()` or firing `Timeout` aimed at the caller;
   *   `signal.reason` when the signal aborts.
   * @example
   * if (await started.wait(1000)) console.log('started');
   */
  wait(timeout?: number, opts?: { signal?: AbortSignal }): Promise<boolean> {
    if (this.#flag) return RESOLVED_TRUE;
    return this.#block(timeout, opts?.signal);
  }

  #block(timeout: number | undefined, signal: AbortSignal | undefined): Promise<boolean> {
    return waitInQueue(this.#waiters, 'Event.wait', timeout, signal);
  }

  /**
   * Call `cb(this)` from the hub once the flag is set — on a later turn, at
   * once if already set. Each callback runs once per registration.
   *
   * @param cb must not block; an error it throws goes to `configure({ onError })`.
   * @example
   * event.rawlink(() => console.log('set'));
   */
  rawlink(cb: (event: this) => void): void {
    this.#links.add(cb, this.#flag);
  }

  /**
   * Remove a callback added with `rawlink`; unknown callbacks are ignored.
   * @param cb the callback given to `rawlink`.
   * @example
   * event.unlink(onSet);
   */
  unlink(cb: (event: this) => void): void {
    this.#links.remove(cb);
  }

  /** @internal Greenlets blocked in `wait()` (for leak tests). */
  get _waiting(): number {
    return this.#waiters.length;
  }

  toString(): string {
    return `Event(${this.#flag ? 'set' : 'unset'})`;
  }
}
