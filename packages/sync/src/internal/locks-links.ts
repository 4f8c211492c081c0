import { getHub, type Handle, type Hub, reportError } from '@greenhub/core';

/**
 * @internal The `rawlink` callbacks of one Event or AsyncResult.
 *
 * Each callback is one-shot, as in gevent: it is called once, from a hub
 * callback on a later turn (never synchronously inside `set()`), in the order
 * the callbacks were added, and is then forgotten. One hub callback fires a
 * whole batch.
 */
export class LinkList<W> {
  readonly #target: W;
  readonly #describe: () => string;
  /** Waiting for the next notification. */
  #waiting: Array<(w: W) => void> = [];
  /** Due in the scheduled hub callback. */
  #due: Array<(w: W) => void> = [];
  /** The batch being called now: a callback may unlink one that comes after it. */
  #firing: Array<((w: W) => void) | undefined> | undefined;
  #handle: Handle | undefined;
  #hub: Hub | undefined;

  constructor(target: W, describe: () => string) {
    this.#target = target;
    this.#describe = describe;
  }

  /** Add `cb`; if the target is ready now, it is due at once (on a later turn). */
  add(cb: (w: W) => void, readyNow: boolean): void {
    if (typeof cb !== 'function') {
      throw Object.assign(new TypeError(`rawlink callback must be a function, got ${typeof cb}`), {
        code: 'ERR_INVALID_ARG_TYPE',
      });
    }
    if (readyNow) {
      this.#due.push(cb);
      this.#schedule();
    } else {
      this.#waiting.push(cb);
    }
  }

  /** Forget every registration of `cb`; unknown callbacks are ignored. */
  remove(cb: (w: W) => void): void {
    this.#waiting = this.#waiting.filter((c) => c !== cb);
    this.#due = this.#due.filter((c) => c !== cb);
    const firing = this.#firing;
    if (firing) for (let i = 0; i < firing.length; i++) if (firing[i] === cb) firing[i] = undefined;
  }

  /** The target became ready: every waiting callback becomes due. */
  notify(): void {
    if (this.#waiting.length === 0) return;
    this.#due.push(...this.#waiting);
    this.#waiting = [];
    this.#schedule();
  }

  #schedule(): void {
    const hub = getHub();
    // A handle from a hub that was reset since would never run.
    if (this.#handle !== undefined && this.#hub === hub) return;
    this.#hub = hub;
    // A hub callback runs outside any greenlet: link callbacks see `main`, as gevent's see the hub.
    this.#handle = hub.callback(() => this.#fire());
  }

  #fire(): void {
    this.#handle = undefined;
    this.#hub = undefined;
    const firing: Array<((w: W) => void) | undefined> = this.#due;
    this.#due = [];
    this.#firing = firing;
    // The same callback linked twice is called once per notification, as in gevent.
    const called = new Set<(w: W) => void>();
    try {
      for (const cb of firing) {
        if (cb === undefined || called.has(cb)) continue;
        called.add(cb);
        try {
          cb(this.#target);
        } catch (err) {
          reportError(err, `link of ${this.#describe()}`);
        }
      }
    } finally {
      this.#firing = undefined;
    }
  }
}
