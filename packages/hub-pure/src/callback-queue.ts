import type { Handle } from '@greenhub/core';

/** One scheduled callback; cancelling it clears `fn`, so a drain just skips it. */
class QueuedCallback implements Handle {
  constructor(
    readonly queue: CallbackQueue,
    public fn: (() => void) | null,
    /** Scheduled by a user through `hub.callback()` (dropped by `hub.close()`), not by the hub itself. */
    readonly user: boolean,
  ) {}

  cancel(): void {
    if (this.fn === null) return;
    this.fn = null;
    this.queue.forget();
  }

  toString(): string {
    return 'callback';
  }
}

/**
 * The hub's FIFO of callbacks (gevent's `run_callback`), drained by one
 * `setImmediate` per loop turn.
 *
 * A drain takes the whole queue at once (an array swap), so callbacks scheduled
 * while draining wait for the next turn: I/O gets polled in between and a
 * callback that reschedules itself cannot starve the loop. The single
 * immediate is the only Node handle, whatever the number of callbacks.
 */
export class CallbackQueue {
  #entries: QueuedCallback[] = [];
  /** The batch being drained, so that closing the hub from a callback also drops the rest of it. */
  #draining: QueuedCallback[] = [];
  #pending = 0;
  #immediate: NodeJS.Immediate | null = null;
  readonly #run = () => this.#drain();

  /**
   * @param enter Called at the start of each drain (the hub refreshes its cached time).
   * @param report Receives what a callback throws.
   */
  constructor(
    private readonly enter: () => void,
    private readonly report: (error: unknown, context: string) => void,
  ) {}

  /** Callbacks scheduled and neither run nor cancelled yet. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Schedule `fn` for the next drain.
   *
   * @param user True for `hub.callback()`; false for the hub's own deferred completions, which must still run after `hub.close()`.
   * @returns A handle whose `cancel()` keeps `fn` from running.
   */
  push(fn: () => void, user: boolean): Handle {
    const entry = new QueuedCallback(this, fn, user);
    this.#entries.push(entry);
    this.#pending++;
    this.#immediate ??= setImmediate(this.#run);
    return entry;
  }

  /** Cancel every callback scheduled through `hub.callback()`; the hub's own completions stay. */
  cancelUser(): void {
    for (const entry of this.#draining) if (entry.user) entry.cancel();
    for (const entry of this.#entries) if (entry.user) entry.cancel();
  }

  /** @internal Bookkeeping for a cancelled entry. */
  forget(): void {
    if (--this.#pending === 0 && this.#immediate !== null) {
      // Nothing left to run: drop the immediate so it does not hold the process for a turn.
      clearImmediate(this.#immediate);
      this.#immediate = null;
      this.#entries = [];
    }
  }

  #drain(): void {
    this.#immediate = null;
    this.enter();
    const batch = this.#entries;
    this.#entries = [];
    this.#draining = batch;
    for (const entry of batch) {
      const fn = entry.fn;
      if (fn === null) continue;
      entry.fn = null;
      this.#pending--;
      try {
        fn();
      } catch (error) {
        this.report(error, 'callback');
      }
    }
    this.#draining = [];
  }
}
