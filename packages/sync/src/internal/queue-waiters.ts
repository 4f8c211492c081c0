import { Waiter } from '@greenhub/core';

/**
 * A Waiter that sits in a `WaitList` and takes itself out the moment it is
 * settled — woken, timed out, aborted or killed — so a later wake-up never
 * lands on a cancelled wait and the list never holds dead entries. For a
 * putter it also carries the item it brings.
 */
export class ListedWaiter<V, I = undefined> extends Waiter<V> {
  prev: ListedWaiter<V, I> | undefined;
  next: ListedWaiter<V, I> | undefined;
  list: WaitList<V, I> | undefined;
  readonly item: I;

  constructor(kind: string, item: I) {
    super(kind);
    this.item = item;
  }

  override switch(value: V): boolean {
    this.list?.remove(this);
    return super.switch(value);
  }

  override throw(error: unknown): boolean {
    this.list?.remove(this);
    return super.throw(error);
  }
}

/** A FIFO of blocked callers with O(1) removal from anywhere. */
export class WaitList<V, I = undefined> {
  #head: ListedWaiter<V, I> | undefined;
  #tail: ListedWaiter<V, I> | undefined;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  get first(): ListedWaiter<V, I> | undefined {
    return this.#head;
  }

  push(waiter: ListedWaiter<V, I>): void {
    waiter.list = this;
    waiter.prev = this.#tail;
    waiter.next = undefined;
    if (this.#tail) this.#tail.next = waiter;
    else this.#head = waiter;
    this.#tail = waiter;
    this.#length++;
  }

  shift(): ListedWaiter<V, I> | undefined {
    const waiter = this.#head;
    if (waiter) this.remove(waiter);
    return waiter;
  }

  remove(waiter: ListedWaiter<V, I>): void {
    if (waiter.list !== this) return;
    waiter.list = undefined;
    const { prev, next } = waiter;
    if (prev) prev.next = next;
    else this.#head = next;
    if (next) next.prev = prev;
    else this.#tail = prev;
    waiter.prev = undefined;
    waiter.next = undefined;
    this.#length--;
  }

  /** Wake the first caller still waiting with `value`; undefined if there was none. */
  wakeOne(value: V): ListedWaiter<V, I> | undefined {
    for (let w = this.shift(); w; w = this.shift()) if (w.switch(value)) return w;
    return undefined;
  }

  /** Wake every caller with `value`. */
  wakeAll(value: V): void {
    for (let w = this.shift(); w; w = this.shift()) w.switch(value);
  }

  /** Throw a fresh error from `make()` into every caller. */
  throwAll(make: () => unknown): void {
    for (let w = this.shift(); w; w = this.shift()) w.throw(make());
  }

  /**
   * Block the current greenlet in the list until woken. The promise is the
   * waiter's own (no extra hop); the waiter leaves the list however the wait
   * ends, including at once (a kill already pending, a signal already aborted).
   */
  park(kind: string, item: I, opts?: { timeout?: number; signal?: AbortSignal }): Promise<V> {
    const waiter = new ListedWaiter<V, I>(kind, item);
    this.push(waiter);
    const promise = waiter.get(opts);
    if (!waiter.waiting) this.remove(waiter);
    return promise;
  }

  /** Like `park`, but a timeout returns `timeoutValue` instead of throwing. */
  parkOr<F>(
    kind: string,
    item: I,
    opts: { timeout?: number; signal?: AbortSignal; timeoutValue: F },
  ): Promise<V | F> {
    const waiter = new ListedWaiter<V, I>(kind, item);
    this.push(waiter);
    const promise = waiter.get(opts);
    if (!waiter.waiting) this.remove(waiter);
    return promise;
  }
}
