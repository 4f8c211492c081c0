import { hubClosedError, type Timer } from '@greenhub/core';
import { invalidStateError } from './internal/errors.js';
import { type Owner, Tracked } from './internal/owner.js';
import { addon, type NativeTimer } from './load-addon.js';

const FIRE = Symbol('fire');

/** A native ev_timer lent to one active LibevTimer at a time. */
interface PooledTimer extends NativeTimer {
  owner: LibevTimer | undefined;
}

/**
 * Native timers are reused: creating a native object costs more than the rest
 * of a timer's life, and greenlets create one per sleep() and Timeout. A
 * LibevTimer holds a native timer only while it is active.
 */
const pool: PooledTimer[] = [];
const POOL_MAX = 16_384;

(addon.Timer.prototype as PooledTimer).ontimeout = function (this: PooledTimer): void {
  this.owner?.[FIRE]();
};

function acquire(owner: LibevTimer, referenced: boolean): PooledTimer {
  const native = pool.pop() ?? (new addon.Timer() as PooledTimer);
  native.owner = owner;
  if (referenced) native.ref();
  else native.unref();
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
  readonly #name: string;
  #native: PooledTimer | undefined;
  #cb: (() => void) | undefined;
  #closed = false;

  constructor(owner: Owner, afterMs: number, repeatMs = 0) {
    super(owner, true, false);
    this.#after = Math.max(0, Number(afterMs) || 0);
    this.#repeat = Math.max(0, Number(repeatMs) || 0);
    this.#name =
      this.#repeat > 0 ? `timer(${this.#after}ms, every ${this.#repeat}ms)` : `timer(${this.#after}ms)`;
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
    this.#native?.ref();
    this.setReferenced(true);
  }

  unref(): void {
    this.#native?.unref();
    this.setReferenced(false);
  }

  override toString(): string {
    return this.#name;
  }

  #arm(): void {
    if (!this.#native) this.#native = acquire(this, this.referenced);
    this.#native.start(this.#after, this.#repeat);
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
    if (cb) this.invoke(this.#name, cb);
  }
}
