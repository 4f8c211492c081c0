import type { Hub, Timer } from '../hub/index.js';
import { getHub } from '../registry.js';
import { enqueue, type Runnable } from './run-queue.js';

/**
 * Deadlines of greenhub waits (`sleep(ms)`, `{ timeout }`), grouped by
 * duration the way Node groups its own timers: every wait of the same length
 * joins one list whose deadlines are already in order, and each list needs a
 * single hub timer for its head. 100k sleeps of ten lengths use ten hub
 * timers, not 100k.
 *
 * Deadlines are `performance.now()` values, so a list never fires an entry
 * early even when the hub's cached time is stale.
 */
export interface Deadline {
  /** Drop the deadline; its callback will not run. Idempotent. */
  cancel(): void;
}

class Entry implements Deadline {
  prev: Entry | undefined;
  next: Entry | undefined;
  list: DeadlineList | undefined;
  constructor(
    readonly due: number,
    readonly target: Runnable,
  ) {}

  cancel(): void {
    this.list?.remove(this);
  }
}

class DeadlineList {
  head: Entry | undefined;
  tail: Entry | undefined;
  #timer: Timer | undefined;
  #armedFor = Number.NaN;

  constructor(
    readonly ms: number,
    readonly hub: Hub,
  ) {}

  add(entry: Entry): void {
    entry.list = this;
    entry.prev = this.tail;
    if (this.tail) this.tail.next = entry;
    else this.head = entry;
    this.tail = entry;
    if (this.head === entry) this.#arm(entry.due);
  }

  remove(entry: Entry): void {
    if (entry.list !== this) return;
    entry.list = undefined;
    if (entry.prev) entry.prev.next = entry.next;
    else this.head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else this.tail = entry.prev;
    entry.prev = entry.next = undefined;
    // A timer armed for a removed head simply fires, finds nothing due and re-arms.
    if (!this.head) {
      this.#disarm();
      if (lists.get(this.ms) === this) lists.delete(this.ms);
    }
  }

  #arm(due: number): void {
    if (this.#armedFor === due && this.#timer?.active) return;
    this.#timer?.close();
    const delay = Math.max(0, Math.ceil(due - performance.now()));
    const timer = this.hub.timer(delay);
    this.#timer = timer;
    this.#armedFor = due;
    timer.start(() => this.#expire());
  }

  #disarm(): void {
    this.#timer?.close();
    this.#timer = undefined;
    this.#armedFor = Number.NaN;
  }

  #expire(): void {
    this.#timer?.close();
    this.#timer = undefined;
    this.#armedFor = Number.NaN;
    const now = performance.now();
    // Callbacks may cancel or add entries, so always continue from the live head.
    for (let entry = this.head; entry && entry.due <= now; entry = this.head) {
      this.remove(entry);
      enqueue(entry.target);
    }
    if (this.head) this.#arm(this.head.due);
    else if (lists.get(this.ms) === this) lists.delete(this.ms);
  }

  close(): void {
    this.#disarm();
    this.head = this.tail = undefined;
  }
}

let lists = new Map<number, DeadlineList>();
let listsHub: Hub | undefined;

/**
 * Queue `target` on the run queue once `delayMs` milliseconds have passed
 * (never earlier). Going through the run queue puts an expiry behind the
 * links of objects that were already ready when the wait began: gevent runs
 * callbacks before timers, so `wait(readyObjects, { timeout: 0 })` sees them.
 */
export function addDeadline(delayMs: number, target: Runnable): Deadline {
  // Whole milliseconds, rounded up, keep the number of lists small and never fire early.
  const ms = Math.ceil(delayMs);
  const hub = getHub();
  if (hub !== listsHub) {
    for (const list of lists.values()) list.close();
    lists = new Map();
    listsHub = hub;
  }
  let list = lists.get(ms);
  if (!list) {
    list = new DeadlineList(ms, hub);
    lists.set(ms, list);
  }
  const entry = new Entry(performance.now() + ms, target);
  list.add(entry);
  return entry;
}

/** @internal The hub was reset: forget every list (their timers died with it). */
export function resetDeadlines(): void {
  lists = new Map();
  listsHub = undefined;
}
