import type { Handle } from '@greenhub/core';

/** One scheduled callback, with its own immediate; cancelling clears that immediate. */
class QueuedCallback implements Handle {
  immediate: NodeJS.Immediate | null = null;
  constructor(
    readonly queue: CallbackQueue,
    public fn: (() => void) | null,
    /** Scheduled by a user through `hub.callback()` (dropped by `hub.close()`), not by the hub itself. */
    readonly user: boolean,
  ) {}

  cancel(): void {
    if (this.fn === null) return;
    this.fn = null;
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.immediate = null;
    this.queue.forget(this);
  }

  toString(): string {
    return 'callback';
  }
}

function runQueued(entry: QueuedCallback): void {
  entry.queue.run(entry);
}

/**
 * The hub's FIFO of callbacks (gevent's `run_callback`): one `setImmediate`
 * per callback, which gives exactly Node's semantics for free. Callbacks run
 * in order; those scheduled while callbacks run wait for the next turn (I/O
 * is polled in between, so a callback that reschedules itself cannot starve
 * the loop); and the microtasks and nextTicks a callback queues run before
 * the next callback, as the contract requires — on one immediate per batch
 * they would run only after the whole batch, unlike on hub-libev.
 */
export class CallbackQueue {
  readonly #pending = new Set<QueuedCallback>();

  /**
   * @param enter Called before each callback (the hub refreshes its cached time).
   * @param report Receives what a callback throws.
   */
  constructor(
    private readonly enter: () => void,
    private readonly report: (error: unknown, context: string) => void,
  ) {}

  /** Callbacks scheduled and neither run nor cancelled yet. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Schedule `fn` for a later turn.
   *
   * @param user True for `hub.callback()`; false for the hub's own deferred completions, which must still run after `hub.close()`.
   * @returns A handle whose `cancel()` keeps `fn` from running.
   */
  push(fn: () => void, user: boolean): Handle {
    const entry = new QueuedCallback(this, fn, user);
    entry.immediate = setImmediate(runQueued, entry);
    this.#pending.add(entry);
    return entry;
  }

  /** Cancel every callback scheduled through `hub.callback()`; the hub's own completions stay. */
  cancelUser(): void {
    for (const entry of [...this.#pending]) if (entry.user) entry.cancel();
  }

  /** @internal Bookkeeping for a cancelled entry. */
  forget(entry: QueuedCallback): void {
    this.#pending.delete(entry);
  }

  /** @internal Called from the entry's immediate. */
  run(entry: QueuedCallback): void {
    const fn = entry.fn;
    if (fn === null) return;
    entry.fn = null;
    entry.immediate = null;
    this.#pending.delete(entry);
    this.enter();
    try {
      fn();
    } catch (error) {
      this.report(error, 'callback');
    }
  }
}
