/**
 * What a hub object needs from its hub, and the bookkeeping every object shares:
 * active / referenced / open counts for `hub.stats()`, and membership in the
 * set of objects `hub.close()` must close.
 */

/** The hub as its objects see it. */
export interface Owner {
  readonly closed: boolean;
  /** Route an exception thrown by a user callback to `onError`. */
  report(error: unknown, context: string): void;
  /** Run a request's completion on a later loop turn; runs even if the hub closes first. */
  complete(fn: () => void, context: string): void;
  adjust(active: number, referenced: number, open: number): void;
  /** Keep `object` in the set that `hub.close()` closes (idempotent). */
  hold(object: Held): void;
  drop(object: Held): void;
  throwIfClosed(): void;
}

export interface Closable {
  close(): void;
}

/**
 * A member of the hub's set of objects to close, as an intrusive doubly
 * linked list: holding and dropping cost no hashing and no allocation, which
 * matters for timers started and stopped by the hundred thousand.
 */
export interface Held extends Closable {
  heldPrev: Held | undefined;
  heldNext: Held | undefined;
  held: boolean;
}

/** Base of every hub object: keeps the hub's counts right as its state changes. */
export abstract class Tracked implements Held {
  /** @internal */
  heldPrev: Held | undefined = undefined;
  /** @internal */
  heldNext: Held | undefined = undefined;
  /** @internal */
  held = false;
  #active = false;
  #referenced: boolean;
  #open: boolean;

  constructor(
    protected readonly owner: Owner,
    referenced: boolean,
    open: boolean,
  ) {
    this.#referenced = referenced;
    this.#open = open;
    if (open) {
      owner.adjust(0, 0, 1);
      owner.hold(this);
    }
  }

  abstract close(): void;

  /** Call a user callback; its exception goes to the hub's `onError`. */
  protected invoke<A extends unknown[]>(context: string, fn: (...args: A) => void, ...args: A): void {
    try {
      fn(...args);
    } catch (err) {
      this.owner.report(err, context);
    }
  }

  get active(): boolean {
    return this.#active;
  }

  protected get referenced(): boolean {
    return this.#referenced;
  }

  protected setActive(on: boolean): void {
    if (on === this.#active) return;
    this.#active = on;
    const d = on ? 1 : -1;
    this.owner.adjust(d, this.#referenced ? d : 0, 0);
    if (!this.#open) {
      if (on) this.owner.hold(this);
      else this.owner.drop(this);
    }
  }

  protected setReferenced(on: boolean): void {
    if (on === this.#referenced) return;
    this.#referenced = on;
    if (this.#active) this.owner.adjust(0, on ? 1 : -1, 0);
  }

  /** The object is closed: it no longer counts as open or active. */
  protected markClosed(): void {
    this.setActive(false);
    if (this.#open) {
      this.#open = false;
      this.owner.adjust(0, 0, -1);
    }
    this.owner.drop(this);
  }
}

/** A {@link Tracked} object over one native handle, open and referenced from the start: `ref()`/`unref()` switch both. */
export abstract class TrackedHandle extends Tracked {
  readonly #handle: { ref(): void; unref(): void };

  constructor(owner: Owner, handle: { ref(): void; unref(): void }) {
    super(owner, true, true);
    this.#handle = handle;
  }

  ref(): void {
    this.#handle.ref();
    this.setReferenced(true);
  }

  unref(): void {
    this.#handle.unref();
    this.setReferenced(false);
  }
}
