import type { ItemStore } from './queue-store.js';

/**
 * A binary min-heap ordered by `compare`, ties broken by insertion order so
 * that equal priorities come out first in, first out. Items and their
 * sequence numbers live in two parallel arrays: no object per item.
 */
export class HeapStore<T> implements ItemStore<T> {
  readonly #compare: (a: T, b: T) => number;
  #items: T[] = [];
  #seqs: number[] = [];
  #nextSeq = 0;

  constructor(compare: (a: T, b: T) => number) {
    this.#compare = compare;
  }

  get size(): number {
    return this.#items.length;
  }

  push(item: T): void {
    const items = this.#items;
    const seqs = this.#seqs;
    const seq = this.#nextSeq++;
    let i = items.length;
    // Sift up with a hole: compare throws before anything moved, so the heap stays valid.
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#before(item, seq, items[parent] as T, seqs[parent] as number)) break;
      items[i] = items[parent] as T;
      seqs[i] = seqs[parent] as number;
      i = parent;
    }
    items[i] = item;
    seqs[i] = seq;
  }

  take(): T {
    const items = this.#items;
    const seqs = this.#seqs;
    const top = items[0] as T;
    const lastItem = items.pop() as T;
    const lastSeq = seqs.pop() as number;
    const n = items.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (
        right < n &&
        this.#before(items[right] as T, seqs[right] as number, items[left] as T, seqs[left] as number)
      ) {
        child = right;
      }
      if (!this.#before(items[child] as T, seqs[child] as number, lastItem, lastSeq)) break;
      items[i] = items[child] as T;
      seqs[i] = seqs[child] as number;
      i = child;
    }
    items[i] = lastItem;
    seqs[i] = lastSeq;
    return top;
  }

  peek(): T {
    return this.#items[0] as T;
  }

  clear(): void {
    this.#items = [];
    this.#seqs = [];
  }

  #before(a: T, seqA: number, b: T, seqB: number): boolean {
    const c = this.#compare(a, b);
    // NaN (an inconsistent compare) counts as a tie rather than corrupting the order.
    return c < 0 || (!(c > 0) && seqA < seqB);
  }
}
