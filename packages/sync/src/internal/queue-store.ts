/** Where a queue keeps its items: the only part that differs between FIFO, LIFO and priority order. */
export interface ItemStore<T> {
  readonly size: number;
  push(item: T): void;
  /** Remove and return the next item; only called when `size > 0`. */
  take(): T;
  /** The next item, left in place; only called when `size > 0`. */
  peek(): T;
  /** Drop every item. */
  clear(): void;
}

/** FIFO order on a growable ring buffer: O(1) at both ends, unlike `Array.prototype.shift`. */
export class FifoStore<T> implements ItemStore<T> {
  #ring: (T | undefined)[] = new Array(8);
  #head = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(item: T): void {
    const ring = this.#ring;
    if (this.#size === ring.length) {
      this.#grow();
      this.#ring[this.#size++] = item;
      return;
    }
    ring[(this.#head + this.#size++) & (ring.length - 1)] = item;
  }

  take(): T {
    const ring = this.#ring;
    const item = ring[this.#head] as T;
    ring[this.#head] = undefined;
    this.#head = (this.#head + 1) & (ring.length - 1);
    this.#size--;
    return item;
  }

  peek(): T {
    return this.#ring[this.#head] as T;
  }

  clear(): void {
    this.#ring = new Array(8);
    this.#head = 0;
    this.#size = 0;
  }

  #grow(): void {
    const old = this.#ring;
    const next: (T | undefined)[] = new Array(old.length * 2);
    for (let i = 0; i < this.#size; i++) next[i] = old[(this.#head + i) & (old.length - 1)];
    this.#ring = next;
    this.#head = 0;
  }
}

/** LIFO order: the last item put is the first taken. */
export class LifoStore<T> implements ItemStore<T> {
  #items: T[] = [];

  get size(): number {
    return this.#items.length;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  take(): T {
    return this.#items.pop() as T;
  }

  peek(): T {
    return this.#items[this.#items.length - 1] as T;
  }

  clear(): void {
    this.#items = [];
  }
}
