import { type Greenlet, getcurrent } from './greenlet.js';

/**
 * A value per greenlet (gevent's `local`): each greenlet sees its own, and
 * code outside greenlets sees the root greenlet's.
 *
 * @example
 * const requestId = new Local<string>();
 * spawn(async () => { requestId.set('a'); await sleep(1); requestId.get(); }); // 'a'
 */
export class Local<T> {
  #values = new WeakMap<Greenlet<unknown>, T>();

  /** This greenlet's value, or undefined if it never set one. */
  get(): T | undefined {
    return this.#values.get(getcurrent());
  }

  /** Set this greenlet's value. */
  set(value: T): void {
    this.#values.set(getcurrent(), value);
  }

  /** This greenlet's value, created with `init()` on first use. */
  getOrInit(init: () => T): T {
    const g = getcurrent();
    if (this.#values.has(g)) return this.#values.get(g) as T;
    const value = init();
    this.#values.set(g, value);
    return value;
  }

  /** Forget this greenlet's value. */
  delete(): void {
    this.#values.delete(getcurrent());
  }
}
