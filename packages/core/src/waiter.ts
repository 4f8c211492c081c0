import type { Greenlet } from './greenlet.js';
import { getcurrent } from './greenlet.js';
import { noteActivity } from './internal/activity.js';
import { addDeadline, type Deadline } from './internal/deadlines.js';
import type { Runnable } from './internal/run-queue.js';
import { Timeout } from './timeout.js';

/** Options taken by every greenhub wait. */
export interface WaitOptions {
  /** Give up after this many ms (`undefined` = no limit). */
  timeout?: number;
  /** Abort the wait; it rejects with `signal.reason`, as Node's APIs do. */
  signal?: AbortSignal;
}

/** @internal What a greenlet keeps of each wait it is blocked in. */
export interface Interruptible {
  readonly kind: string;
  throw(error: unknown): boolean;
}

const IDLE = 0;
const WAITING = 1;
const SETTLED = 2;

/**
 * A one-shot rendezvous: one greenlet waits with `get()`, someone else wakes
 * it with `switch(value)` or `throw(error)`. Every blocking operation in
 * greenhub waits on a Waiter, which registers with the current greenlet, so
 * that `kill()`, a firing `Timeout` and an aborted signal interrupt any wait
 * the same way — and leave nothing registered afterwards.
 *
 * A value or error given before `get()` is kept and returned at once
 * (gevent's semantics). Each Waiter is used for one wait.
 *
 * Every way a wait ends goes through `switch()` or `throw()` — a timeout
 * (`switch(timeoutValue)` or `throw(Timeout)`), an abort (`throw(reason)`), a
 * kill or a firing `Timeout` aimed at the greenlet (`throw(error)`), and a
 * wait that fails as `get()` starts it (a kill already pending, an aborted
 * signal, a bad timeout) — so a subclass that overrides them sees every
 * ending, e.g. to leave a waiter list at once.
 *
 * @example
 * const w = new Waiter<string>('reply');
 * replies.set(id, w);
 * try { return await w.get({ timeout: 1000 }); } finally { replies.delete(id); }
 */
export class Waiter<T = unknown> implements Interruptible, Runnable {
  /** What is waited for, as shown by `formatRunInfo()`: `'sleep'`, `'Event.wait'`, `'socket read'`... */
  readonly kind: string;
  #state = IDLE;
  #isError = false;
  #result: unknown;
  #resolve: ((value: T) => void) | undefined;
  #reject: ((error: unknown) => void) | undefined;
  #owner: Greenlet<unknown> | undefined;
  #deadline: Deadline | undefined;
  #timeoutMs = 0;
  #timeoutValue: unknown = NO_VALUE;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;

  constructor(kind = 'wait') {
    this.kind = kind;
  }

  /** True once a value or error was given (or the wait ended). */
  get ready(): boolean {
    return this.#state === SETTLED;
  }

  /** True while a greenlet is blocked in `get()`. */
  get waiting(): boolean {
    return this.#state === WAITING;
  }

  /** The greenlet blocked in `get()`, if any. */
  get owner(): Greenlet<unknown> | undefined {
    return this.#owner;
  }

  /**
   * Wake the waiter with a value.
   * @returns false if it was already woken, timed out, aborted or killed — the
   * caller should then hand the value to someone else (nothing is lost).
   */
  switch(value: T): boolean {
    if (this.#state === SETTLED) return false;
    if (this.#state === IDLE) {
      this.#state = SETTLED;
      this.#result = value;
      return true;
    }
    const resolve = this.#resolve!;
    this.#finish();
    noteActivity();
    resolve(value);
    return true;
  }

  /**
   * Wake the waiter with an error, which its `get()` rejects with.
   * @returns false if it was already woken.
   */
  throw(error: unknown): boolean {
    if (this.#state === SETTLED) return false;
    if (this.#state === IDLE) {
      this.#state = SETTLED;
      this.#isError = true;
      this.#result = error;
      return true;
    }
    const reject = this.#reject!;
    this.#finish();
    noteActivity();
    reject(error);
    return true;
  }

  /**
   * Wait for `switch()` or `throw()`.
   *
   * @throws whatever `throw()` gave; the error of a `kill()` or firing
   *   `Timeout` aimed at the current greenlet; `signal.reason` on abort; a
   *   `Timeout` when `timeout` runs out (unless `timeoutValue` is given, which
   *   is then returned instead).
   */
  get(opts?: WaitOptions): Promise<T>;
  get<F>(opts: WaitOptions & { timeoutValue: F }): Promise<T | F>;
  get(opts?: WaitOptions & { timeoutValue?: unknown }): Promise<unknown> {
    if (this.#state === WAITING) {
      return Promise.reject(
        Object.assign(new Error(`this ${this.kind} waiter is already waited on by another greenlet`), {
          code: 'ERR_CONCURRENT_USE',
        }),
      );
    }
    const owner = getcurrent();
    const pending = owner._takePendingThrow();
    if (pending === NO_THROW && this.#state === SETTLED) {
      return this.#isError ? Promise.reject(this.#result) : Promise.resolve(this.#result);
    }
    this.#state = WAITING;
    this.#owner = owner;
    owner._addWait(this);
    const promise = new Promise<T>(capture);
    this.#resolve = capturedResolve as (value: T) => void;
    this.#reject = capturedReject;
    capturedResolve = capturedReject = undefined;
    const signal = opts?.signal;
    const timeout = opts?.timeout;
    // A wait that cannot even start ends through throw() too, as every other ending does: a
    // subclass sees it the same way (and a waiter listed somewhere leaves the list).
    if (pending !== NO_THROW) this.throw(pending);
    else if (signal?.aborted) this.throw(signal.reason);
    else if (timeout !== undefined && !(timeout >= 0)) {
      this.throw(
        Object.assign(new RangeError(`timeout must be a number >= 0 (ms), got ${timeout}`), {
          code: 'ERR_OUT_OF_RANGE',
        }),
      );
    } else {
      if (timeout !== undefined) {
        this.#timeoutMs = timeout;
        if (opts !== undefined && 'timeoutValue' in opts) this.#timeoutValue = opts.timeoutValue;
        this.#deadline = addDeadline(timeout, this);
      }
      if (signal) {
        this.#signal = signal;
        this.#onAbort = () => this.throw(signal.reason);
        signal.addEventListener('abort', this.#onAbort, { once: true });
      }
    }
    return promise;
  }

  /** @internal The deadline passed (called from the run queue). */
  _runQueued(): void {
    if (this.#state !== WAITING) return;
    if (this.#timeoutValue !== NO_VALUE) this.switch(this.#timeoutValue as T);
    else this.throw(new Timeout(this.#timeoutMs));
  }

  #finish(): void {
    this.#state = SETTLED;
    this.#resolve = undefined;
    this.#reject = undefined;
    const owner = this.#owner;
    if (owner) {
      this.#owner = undefined;
      owner._removeWait(this);
    }
    if (this.#deadline) {
      this.#deadline.cancel();
      this.#deadline = undefined;
    }
    if (this.#signal) {
      this.#signal.removeEventListener('abort', this.#onAbort!);
      this.#signal = undefined;
      this.#onAbort = undefined;
    }
  }
}

// One executor for every wait's promise (a closure per wait would be an allocation per wait):
// it leaves the promise's functions here for get() to take at once.
let capturedResolve: ((value: unknown) => void) | undefined;
let capturedReject: ((error: unknown) => void) | undefined;
function capture(resolve: (value: never) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve as (value: unknown) => void;
  capturedReject = reject;
}

const NO_VALUE: unique symbol = Symbol('greenhub.noTimeoutValue');

/** @internal Returned by `_takePendingThrow()` when nothing is pending. */
export const NO_THROW: unique symbol = Symbol('greenhub.noThrow');
