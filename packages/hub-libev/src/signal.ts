import { hubClosedError, type SignalWatcher } from '@greenhub/core';
import { type Owner, Tracked } from './internal/owner.js';

/**
 * A POSIX signal watcher through Node's own signal handling (`process.on`):
 * libev's signal watchers would fight libuv for the handlers (LIBEV.md pitfall 3).
 * Unreferenced by default, like Node's; a referenced active watcher keeps the
 * process alive with a referenced Node interval that never fires in practice.
 */
export class LibevSignal extends Tracked implements SignalWatcher {
  readonly signal: NodeJS.Signals;
  #cb: (() => void) | undefined;
  #listening = false;
  #closed = false;
  #keepAlive: NodeJS.Timeout | undefined;
  readonly #listener = (): void => {
    const cb = this.#cb;
    if (cb) this.invoke(`signal(${this.signal})`, cb);
  };

  constructor(owner: Owner, signal: NodeJS.Signals) {
    super(owner, false, false);
    this.signal = signal;
  }

  start(cb: () => void): void {
    if (this.#closed) throw hubClosedError(`signal(${this.signal})`);
    this.owner.throwIfClosed();
    this.#cb = cb;
    if (!this.#listening) {
      process.on(this.signal, this.#listener);
      this.#listening = true;
    }
    this.setActive(true);
    this.#syncKeepAlive();
  }

  stop(): void {
    if (this.#listening) {
      process.off(this.signal, this.#listener);
      this.#listening = false;
    }
    this.setActive(false);
    this.#syncKeepAlive();
  }

  close(): void {
    if (this.#closed) return;
    this.stop();
    this.#closed = true;
    this.#cb = undefined;
    this.markClosed();
  }

  ref(): void {
    this.setReferenced(true);
    this.#syncKeepAlive();
  }

  unref(): void {
    this.setReferenced(false);
    this.#syncKeepAlive();
  }

  #syncKeepAlive(): void {
    const want = this.active && this.referenced;
    if (want && !this.#keepAlive) {
      this.#keepAlive = setInterval(() => {}, 2 ** 31 - 1);
    } else if (!want && this.#keepAlive) {
      clearInterval(this.#keepAlive);
      this.#keepAlive = undefined;
    }
  }
}
