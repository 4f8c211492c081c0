import type { Hub } from '../../hub/index.js';

/** A promise with its resolve and reject functions, for turning a callback into something to await. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Wait for `promise`, failing with a message naming `what` after `ms`.
 * Every wait in the suite goes through this (or {@link until}), so a hub that
 * never calls back fails one test quickly instead of hanging the run.
 */
export function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/**
 * Wait until `condition()` holds, checking after every Node loop turn (and at
 * least every few ms), failing after `ms` with `what` and the last `describe()`.
 */
export function until(
  condition: () => boolean,
  what: string,
  ms = 2000,
  describe?: () => string,
): Promise<void> {
  const deadline = performance.now() + ms;
  return new Promise<void>((resolve, reject) => {
    let spins = 0;
    const check = (): void => {
      let ok: boolean;
      try {
        ok = condition();
      } catch (err) {
        reject(err);
        return;
      }
      if (ok) {
        resolve();
        return;
      }
      if (performance.now() > deadline) {
        const detail = describe ? ` (${describe()})` : '';
        reject(new Error(`timed out after ${ms} ms waiting for ${what}${detail}`));
        return;
      }
      // A few immediate re-checks catch fast events; after that, poll gently.
      if (++spins < 20) setImmediate(check);
      else setTimeout(check, 2);
    };
    check();
  });
}

/**
 * Let the hub run `count` full turns: each turn is a hub callback followed by
 * a Node `setImmediate`, so both loops have gone round. Used to show that
 * something did *not* happen after the event that would have caused it.
 */
export async function turns(hub: Hub, count = 3): Promise<void> {
  for (let i = 0; i < count; i++) {
    const done = deferred();
    hub.callback(() => setImmediate(() => done.resolve()));
    await within(1000, `hub turn ${i + 1} of ${count}`, done.promise);
  }
}

/** Collects values from a callback and hands them out in order, each with a bounded wait. */
export class Inbox<T> {
  readonly items: T[] = [];
  private readonly waiting: Array<{ index: number; resolve: (value: T) => void }> = [];
  private taken = 0;

  readonly push = (value: T): void => {
    this.items.push(value);
    const index = this.items.length - 1;
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const waiter = this.waiting[i];
      if (waiter && waiter.index === index) {
        this.waiting.splice(i, 1);
        waiter.resolve(value);
      }
    }
  };

  get count(): number {
    return this.items.length;
  }

  /** The next value not yet taken. */
  next(what: string, ms = 2000): Promise<T> {
    const index = this.taken++;
    if (index < this.items.length) return Promise.resolve(this.items[index] as T);
    const got = deferred<T>();
    this.waiting.push({ index, resolve: got.resolve });
    return within(ms, what, got.promise);
  }
}

/** Node's `performance.now()`, named for what the suite uses it as: the reference clock. */
export function wallClock(): number {
  return performance.now();
}
