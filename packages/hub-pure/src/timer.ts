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
 */
export class PureTimer implements Timer, Owned {
  #cb: (() => void) | null = null;
  #timeout: NodeJS.Timeout | null = null;
  #timeoutDelay = -1;
  #deadline = 0;
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

  #assertUsable(): void {
    if (this.#closed) throw hubClosedError(`${this}`);
    this.rt.assertOpen();
  }

  /** Set the deadline `delay` from the current real time and (re)start the Node timeout. */
  #arm(delay: number): void {
    this.#deadline = performance.now() + delay;
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
    if (now < this.#deadline) {
      this.#schedule(this.#deadline - now);
      return;
    }
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
