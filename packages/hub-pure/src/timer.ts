import { performance } from 'node:perf_hooks';
import type { Timer } from '@greenhub/core';
import { hubClosedError } from '@greenhub/core';
import type { Owned, Runtime } from './internal/runtime.js';

/** Node warns and fires after 1 ms for anything longer; longer waits are re-armed in steps. */
const MAX_NODE_DELAY = 0x7fffffff;

function checkDelay(ms: number, name: string): number {
  if (typeof ms !== 'number' || !(ms >= 0) || ms === Number.POSITIVE_INFINITY) {
    const err = new RangeError(`The "${name}" of a timer must be a finite number >= 0; received ${ms}`);
    Object.assign(err, { code: 'ERR_OUT_OF_RANGE' });
    throw err;
  }
  return ms;
}

function invalidState(message: string): Error {
  return Object.assign(new Error(message), { code: 'ERR_INVALID_STATE' });
}

/**
 * A timer on Node's `setTimeout`, which never fires early.
 *
 * Node measures timeouts against libuv's loop time: whole milliseconds, and
 * cached since the start of the loop turn, so a timeout can fire up to a
 * millisecond (or the length of the turn's JS work) before `performance.now()`
 * says it is due. Each timer therefore keeps its own deadline in
 * `performance.now()` time and, when Node fires too soon, re-arms for the
 * remainder instead of calling back.
 *
 * A timer that waits so must still fire before every timer due no earlier:
 * Node may well call a later timer first (one started a millisecond later in
 * Node's coarse loop time, for one), and the clock may have passed that one's
 * deadline meanwhile. So waiting timers are listed in the runtime, and a timer
 * that Node calls while a listed one is due no later than it waits too.
 */
export class PureTimer implements Timer, Owned {
  #cb: (() => void) | null = null;
  #timeout: NodeJS.Timeout | null = null;
  #timeoutDelay = -1;
  #deadline = 0;
  #armed = 0;
  #referenced = true;
  #closed = false;
  readonly #fire = () => this.#onTimeout();

  /**
   * @param rt The hub's shared state.
   * @param after Delay of the first firing, in ms.
   * @param repeat Delay between later firings, in ms; 0 for a one-shot timer.
   */
  constructor(
    private readonly rt: Runtime,
    readonly after: number,
    readonly repeat: number,
  ) {
    checkDelay(after, 'afterMs');
    checkDelay(repeat, 'repeatMs');
  }

  get active(): boolean {
    return this.#timeout !== null;
  }

  get keepsAlive(): boolean {
    return this.#timeout !== null && this.#referenced;
  }

  get holdsSocket(): boolean {
    return false;
  }

  start(cb: () => void): void {
    this.#assertUsable();
    this.#cb = cb;
    this.#arm(this.after);
  }

  again(): void {
    this.#assertUsable();
    if (this.#cb === null) throw invalidState(`${this}.again(): the timer was never started`);
    this.#arm(this.after);
  }

  stop(): void {
    if (this.#timeout === null) return;
    clearTimeout(this.#timeout);
    this.#timeout = null;
    this.rt.owned.delete(this);
    this.#stopWaiting();
  }

  /** @internal When the timer is due, in `performance.now()` time. */
  get deadline(): number {
    return this.#deadline;
  }

  /** @internal Which start this is, across the hub's timers: breaks ties between equal deadlines. */
  get armed(): number {
    return this.#armed;
  }

  close(): void {
    if (this.#closed) return;
    this.stop();
    this.#closed = true;
    this.#cb = null;
  }

  closeByHub(): void {
    this.close();
  }

  ref(): void {
    this.#referenced = true;
    this.#timeout?.ref();
  }

  unref(): void {
    this.#referenced = false;
    this.#timeout?.unref();
  }

  toString(): string {
    return this.repeat > 0 ? `timer(${this.after}ms, every ${this.repeat}ms)` : `timer(${this.after}ms)`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  /** Leave the runtime's waiting timers (mostly empty: then no lookup at all). */
  #stopWaiting(): void {
    const waiting = this.rt.waitingTimers;
    if (waiting.size !== 0) waiting.delete(this);
  }

  /** The deadline of another waiting timer due no later than this one, if any. */
  #waitingBefore(): number | undefined {
    const waiting = this.rt.waitingTimers;
    if (waiting.size === 0 || (waiting.size === 1 && waiting.has(this))) return undefined;
    let first: number | undefined;
    for (const other of waiting) {
      const before =
        other.deadline < this.#deadline || (other.deadline === this.#deadline && other.armed < this.#armed);
      if (before && (first === undefined || other.deadline < first)) first = other.deadline;
    }
    return first;
  }

  #assertUsable(): void {
    if (this.#closed) throw hubClosedError(`${this}`);
    this.rt.assertOpen();
  }

  /** Set the deadline `delay` from the current real time and (re)start the Node timeout. */
  #arm(delay: number): void {
    this.#deadline = performance.now() + delay;
    this.#armed = ++this.rt.timersArmed;
    this.#stopWaiting();
    this.#schedule(delay);
    this.rt.owned.add(this);
  }

  #schedule(delay: number): void {
    const nodeDelay = Math.min(Math.max(Math.ceil(delay), 1), MAX_NODE_DELAY);
    if (this.#timeout !== null && this.#timeoutDelay === nodeDelay) {
      // Same delay: Node moves (or revives, once fired) the existing timeout, no new object.
      this.#timeout.refresh();
      return;
    }
    if (this.#timeout !== null) clearTimeout(this.#timeout);
    this.#timeout = setTimeout(this.#fire, nodeDelay);
    this.#timeoutDelay = nodeDelay;
    if (!this.#referenced) this.#timeout.unref();
  }

  #onTimeout(): void {
    this.rt.enter();
    const now = this.rt.now();
    const waitUntil = now < this.#deadline ? this.#deadline : this.#waitingBefore();
    if (waitUntil !== undefined) {
      this.rt.waitingTimers.add(this);
      this.#schedule(waitUntil - now);
      return;
    }
    this.#stopWaiting();
    const cb = this.#cb;
    if (this.repeat > 0) {
      this.#deadline = now + this.repeat;
      this.#schedule(this.repeat);
    } else {
      // Inactive before the callback runs, so the callback may start it again.
      this.#timeout = null;
      this.rt.owned.delete(this);
    }
    if (cb !== null) this.rt.call(cb, this, '');
  }
}
