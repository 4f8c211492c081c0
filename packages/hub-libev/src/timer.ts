import { hubClosedError, type Timer } from '@greenhub/core';
import { invalidStateError } from './internal/errors.js';
import { type Owner, Tracked } from './internal/owner.js';
import { addon, type NativeTimer } from './load-addon.js';

const FIRE = Symbol('fire');

/** A native ev_timer lent to one active LibevTimer at a time. */
interface PooledTimer extends NativeTimer {
  /** Its native `id`, read once. */
  timerId: number;
  owner: LibevTimer | undefined;
  /** Mirrors the native ref state, so that lending it out costs no native call when unchanged. */
  referenced: boolean;
}

/**
 * Native timers are reused: creating a native object costs more than the rest
 * of a timer's life, and greenlets create one per sleep() and Timeout. A
 * LibevTimer holds a native timer only while it is active.
 */
const pool: PooledTimer[] = [];
const POOL_MAX = 16_384;

/**
 * Slots shared with native code, so that a timer re-armed from its own
 * callback (a timer(0) chain) costs no JS->C++ call: `FIRING`
 * holds the id of the native timer whose callback runs (0 when none), and
 * native code re-arms that timer with `REARM_AFTER`/`REARM_REPEAT` after the
 * callback and its microtasks if `REARM` is 1 by then.
 */
const FIRING = 0;
const REARM = 1;
const REARM_AFTER = 2;
const REARM_REPEAT = 3;
const slots = new Float64Array(new ArrayBuffer(4 * Float64Array.BYTES_PER_ELEMENT));
addon.shareTimerSlots(slots);

(addon.Timer.prototype as PooledTimer).ontimeout = function (this: PooledTimer): void {
  this.owner?.[FIRE]();
};

function isFiring(native: PooledTimer): boolean {
  return slots[FIRING] === native.timerId;
}

function acquire(owner: LibevTimer, referenced: boolean): PooledTimer {
  let native = pool.pop();
  if (!native) {
    native = new addon.Timer() as PooledTimer;
    native.referenced = true;
    native.timerId = native.id;
  }
  native.owner = owner;
  if (native.referenced !== referenced) {
    native.referenced = referenced;
    if (referenced) native.ref();
    else native.unref();
  }
  return native;
}

function release(native: PooledTimer): void {
  native.owner = undefined;
  if (pool.length < POOL_MAX) pool.push(native);
}

/** A libev `ev_timer`: one-shot, or repeating when created with `repeatMs`. */
export class LibevTimer extends Tracked implements Timer {
  readonly #after: number;
  readonly #repeat: number;
  #native: PooledTimer | undefined;
  #cb: (() => void) | undefined;
  #closed = false;

  constructor(owner: Owner, afterMs: number, repeatMs = 0) {
    super(owner, true, false);
    this.#after = Math.max(0, Number(afterMs) || 0);
    this.#repeat = Math.max(0, Number(repeatMs) || 0);
  }

  start(cb: () => void): void {
    if (this.#closed) throw hubClosedError(this.#name);
    this.owner.throwIfClosed();
    this.#cb = cb;
    this.#arm();
  }

  again(): void {
    if (this.#closed) throw hubClosedError(this.#name);
    this.owner.throwIfClosed();
    if (!this.#cb) throw invalidStateError(`${this.#name}.again() before start()`);
    this.#arm();
  }

  stop(): void {
    const native = this.#native;
    if (!native) return;
    if (isFiring(native)) slots[REARM] = 0;
    native.stop();
    this.#native = undefined;
    release(native);
    this.setActive(false);
  }

  close(): void {
    if (this.#closed) return;
    this.stop();
    this.#closed = true;
    this.#cb = undefined;
    this.markClosed();
  }

  ref(): void {
    const native = this.#native;
    if (native) {
      native.referenced = true;
      native.ref();
    }
    this.setReferenced(true);
  }

  unref(): void {
    const native = this.#native;
    if (native) {
      native.referenced = false;
      native.unref();
    }
    this.setReferenced(false);
  }

  /** Built on demand: timers are created by the hundred thousand and rarely named. */
  get #name(): string {
    return this.#repeat > 0 ? `timer(${this.#after}ms, every ${this.#repeat}ms)` : `timer(${this.#after}ms)`;
  }

  override toString(): string {
    return this.#name;
  }

  #arm(): void {
    if (!this.#native) this.#native = acquire(this, this.referenced);
    const native = this.#native;
    if (isFiring(native)) {
      // Native code re-arms it once the callback returns; from then, so never early.
      slots[REARM] = 1;
      slots[REARM_AFTER] = this.#after;
      slots[REARM_REPEAT] = this.#repeat;
    } else {
      native.start(this.#after, this.#repeat);
    }
    this.setActive(true);
  }

  /** Called by the native timer; a one-shot timer is inactive before its callback runs. */
  [FIRE](): void {
    if (this.#repeat === 0) {
      const native = this.#native;
      this.#native = undefined;
      if (native) release(native);
      this.setActive(false);
    }
    const cb = this.#cb;
    if (!cb) return;
    try {
      cb();
    } catch (err) {
      this.owner.report(err, this.#name);
    }
  }
}
