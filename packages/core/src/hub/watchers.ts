/** Something scheduled once that can be called off. */
export interface Handle {
  /** Call the request off. A callback then never runs; a connect calls back with `ECANCELED`. Idempotent. */
  cancel(): void;
}

/**
 * A long-lived handle that calls back on an event until stopped.
 *
 * Rules: `start()` on an active watcher replaces its callback and (for a
 * timer) restarts it from now. `stop()` and `close()` are idempotent; after
 * `close()` the watcher never calls back again and `start()` throws
 * `ERR_HUB_CLOSED`. A watcher is referenced unless `unref()` was called; only
 * an active, referenced watcher keeps the process alive.
 */
export interface Watcher {
  start(cb: () => void): void;
  stop(): void;
  close(): void;
  /** True between `start()` and `stop()` (a one-shot timer stops itself before its callback runs). */
  readonly active: boolean;
  ref(): void;
  unref(): void;
}

/** A timer: one-shot, or repeating when created with `repeatMs`. */
export interface Timer extends Watcher {
  /**
   * Re-arm the timer from now with its original delays and current callback,
   * whether or not it was active — the cheap way to push a deadline back
   * (socket timeouts, keep-alive). Throws `ERR_INVALID_STATE` if it was never started.
   */
  again(): void;
}

/** Calls back on each delivery of a POSIX signal. */
export interface SignalWatcher extends Watcher {
  readonly signal: NodeJS.Signals;
}
