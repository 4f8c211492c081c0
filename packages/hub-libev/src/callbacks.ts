/**
 * The FIFO behind `hub.callback()` (gevent's `run_callback`), drained on the
 * libev loop by a native ev_idle at the highest priority: each libev
 * iteration runs the callbacks queued before it started, one native call per
 * callback so that microtasks run in between, as between setImmediate callbacks.
 * Callbacks queued while draining wait for the next iteration: never synchronous.
 */
import type { Handle } from '@greenhub/core';
import type { Owner } from './internal/owner.js';
import { addon, type NativeIdle } from './load-addon.js';

interface Entry {
  fn: (() => void) | null;
  context: string;
  /** A request completion: still delivered (outside the loop) if the hub closes first. */
  internal: boolean;
}

/** Compact the array once this many run entries sit at its head. */
const COMPACT_AT = 4096;

export class CallbackQueue {
  #owner: Owner;
  #items: Entry[] = [];
  #head = 0;
  /** End of the batch being drained, or -1 between batches. */
  #batchEnd = -1;
  #pending = 0;
  #idle: NativeIdle;

  constructor(owner: Owner) {
    this.#owner = owner;
    this.#idle = new addon.Idle();
    this.#idle.onidle = () => this.#step();
  }

  get pending(): number {
    return this.#pending;
  }

  push(fn: () => void, context: string, internal: boolean): Handle {
    const entry: Entry = { fn, context, internal };
    this.#items.push(entry);
    this.#pending++;
    this.#owner.adjust(1, 1, 0);
    if (this.#pending === 1) this.#idle.start();
    return { cancel: () => this.#cancel(entry) };
  }

  #cancel(entry: Entry): void {
    if (entry.fn === null) return;
    entry.fn = null;
    this.#settled();
  }

  #settled(): void {
    this.#pending--;
    this.#owner.adjust(-1, -1, 0);
    if (this.#pending === 0) {
      this.#idle.stop();
      if (this.#batchEnd < 0) {
        this.#items.length = 0;
        this.#head = 0;
      }
    }
  }

  /** Runs the next callback of the current batch; true while the batch has more. */
  #step(): boolean {
    const items = this.#items;
    if (this.#batchEnd < 0) this.#batchEnd = items.length;
    while (this.#head < this.#batchEnd) {
      const entry = items[this.#head++]!;
      const fn = entry.fn;
      if (fn === null) continue;
      entry.fn = null;
      this.#settled();
      try {
        fn();
      } catch (err) {
        this.#owner.report(err, entry.context);
      }
      break;
    }
    if (this.#head < this.#batchEnd) return true;
    this.#batchEnd = -1;
    if (this.#head === items.length) {
      items.length = 0;
      this.#head = 0;
    } else if (this.#head >= COMPACT_AT) {
      items.splice(0, this.#head);
      this.#head = 0;
    }
    return false;
  }

  /** The hub closed: drop user callbacks, deliver request completions outside the loop. */
  close(): void {
    this.#idle.stop();
    const rest = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    this.#batchEnd = -1;
    for (const entry of rest) {
      const fn = entry.fn;
      if (fn === null) continue;
      entry.fn = null;
      this.#pending--;
      this.#owner.adjust(-1, -1, 0);
      if (entry.internal) {
        setImmediate(() => {
          try {
            fn();
          } catch (err) {
            this.#owner.report(err, entry.context);
          }
        });
      }
    }
  }
}
