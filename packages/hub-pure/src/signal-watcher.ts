import type { SignalWatcher } from '@greenhub/core';
import { hubClosedError } from '@greenhub/core';
import type { Owned, Runtime } from './internal/runtime.js';

/**
 * A signal watcher on `process.on(signal)`, so Node's own signal handling and
 * other listeners keep working.
 *
 * Unreferenced by default, like Node's listeners. Node listeners never keep
 * the process alive, so a referenced active watcher holds the hub's shared
 * keep-alive handle instead.
 */
export class PureSignalWatcher implements SignalWatcher, Owned {
  #cb: (() => void) | null = null;
  #listening = false;
  #referenced = false;
  #holdsKeepAlive = false;
  #closed = false;
  readonly #listener = () => this.#onSignal();

  constructor(
    private readonly rt: Runtime,
    readonly signal: NodeJS.Signals,
  ) {}

  get active(): boolean {
    return this.#listening;
  }

  get keepsAlive(): boolean {
    return this.#listening && this.#referenced;
  }

  get holdsSocket(): boolean {
    return false;
  }

  start(cb: () => void): void {
    if (this.#closed) throw hubClosedError(`${this}`);
    this.rt.assertOpen();
    this.#cb = cb;
    if (!this.#listening) {
      process.on(this.signal, this.#listener);
      this.#listening = true;
      this.rt.owned.add(this);
    }
    this.#syncKeepAlive();
  }

  stop(): void {
    if (!this.#listening) return;
    process.off(this.signal, this.#listener);
    this.#listening = false;
    this.rt.owned.delete(this);
    this.#syncKeepAlive();
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
    this.#syncKeepAlive();
  }

  unref(): void {
    this.#referenced = false;
    this.#syncKeepAlive();
  }

  toString(): string {
    return `signal(${this.signal})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  #syncKeepAlive(): void {
    const want = this.keepsAlive;
    if (want === this.#holdsKeepAlive) return;
    this.#holdsKeepAlive = want;
    if (want) this.rt.keepAlive.acquire();
    else this.rt.keepAlive.release();
  }

  #onSignal(): void {
    const cb = this.#cb;
    if (cb === null) return;
    this.rt.enter();
    this.rt.call(cb, this, '');
  }
}
