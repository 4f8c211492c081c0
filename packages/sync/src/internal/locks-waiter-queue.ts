import { Waiter } from '@greenhub/core';

/**
 * @internal The FIFO every lock and event keeps its waiters in.
 *
 * An array with a moving head: `push` and `shift` are O(1), so a release
 * that hands a permit to the oldest waiter costs the same with 10 or 10k
 * waiters. Order is arrival order, never hash order (gevent issue 1487).
 */
export class WaiterQueue<T> {
  #items: T[] = [];
  #head = 0;

  /** How many entries are queued. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** Take the oldest entry. */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined as T;
    this.#head++;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Drop an entry that gave up (timeout, abort, kill); false if it was no longer queued. */
  remove(item: T): boolean {
    const index = this.#items.indexOf(item, this.#head);
    if (index < 0) return false;
    if (index === this.#head) this.shift();
    else this.#items.splice(index, 1);
    return true;
  }

  /** Take every entry, oldest first, leaving the queue empty. */
  takeAll(): T[] {
    const items = this.#head === 0 ? this.#items : this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    return items;
  }
}

/**
 * @internal Queue a new `Waiter` of `kind` in `queue` and wait on it: true once
 * switched with true, false when `timeout` runs out. A waiter that was not
 * woken (timeout, abort, kill) leaves the queue.
 */
export async function waitInQueue(
  queue: WaiterQueue<Waiter<boolean>>,
  kind: string,
  timeout: number | undefined,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const waiter = new Waiter<boolean>(kind);
  queue.push(waiter);
  let woken = false;
  try {
    woken = await waiter.get({ timeout, timeoutValue: false, signal });
    return woken;
  } finally {
    if (!woken) queue.remove(waiter);
  }
}
