import { type Greenlet, GreenletExit, killall, Waiter } from '@greenhub/core';
import { FifoStore } from './queue-store.js';

/** An item's error, returned rather than thrown so the hub does not report it: the caller of map receives it. */
export class Failed {
  constructor(readonly error: unknown) {}
}

/** The function a map greenlet runs: `fn(item)`, with a failure turned into a `Failed`. */
export async function runCatching<I, R>(fn: (item: I) => R | Promise<R>, item: I): Promise<R | Failed> {
  try {
    return await fn(item);
  } catch (err) {
    return new Failed(err);
  }
}

/** The result of a map greenlet, or its error thrown (a greenlet killed before it ran throws its kill error). */
export function resultOf<R>(g: Greenlet<R | Failed>): R {
  if (!g.successful()) throw g.exception;
  const value = g.value;
  if (value instanceof Failed) throw value.error;
  if (value instanceof GreenletExit) throw value;
  return value as R;
}

/** One item of a map run: where it was in the input, and the greenlet computing it. */
export interface MapTask<R> {
  readonly index: number;
  readonly greenlet: Greenlet<R | Failed>;
}

/** Spawn `task(item)` as a member of the group (a Pool may have to wait for a slot). */
export type SpawnMember = <I, R>(
  task: (item: I) => Promise<R | Failed>,
  item: I,
) => Greenlet<R | Failed> | Promise<Greenlet<R | Failed>>;

/** `(item) => runCatching(fn, item)`, named after `fn` so its greenlets read `fetchPage#12` in `formatRunInfo()`. */
export function catching<I, R>(
  fn: (item: I) => R | Promise<R>,
  fallbackName: string,
): (item: I) => Promise<R | Failed> {
  const task = (item: I): Promise<R | Failed> => runCatching(fn, item);
  Object.defineProperty(task, 'name', { value: fn.name || fallbackName });
  return task;
}

type Source<I> = { next(): IteratorResult<I> | Promise<IteratorResult<I>>; return?(): unknown };

function open<I>(items: Iterable<I> | AsyncIterable<I>): Source<I> {
  if (items != null && typeof (items as AsyncIterable<I>)[Symbol.asyncIterator] === 'function') {
    return (items as AsyncIterable<I>)[Symbol.asyncIterator]();
  }
  if (items != null && typeof (items as Iterable<I>)[Symbol.iterator] === 'function') {
    return (items as Iterable<I>)[Symbol.iterator]();
  }
  throw Object.assign(
    new TypeError(`map needs an Iterable or an AsyncIterable of items, got ${typeof items}`),
    {
      code: 'ERR_INVALID_ARG_TYPE',
    },
  );
}

function isPromise<V>(value: V | Promise<V>): value is Promise<V> {
  return typeof (value as { then?: unknown }).then === 'function';
}

/**
 * One run of `fn` over `items` with at most `limit` items between being read
 * from the source and being taken by the consumer (running, or finished and
 * not yet taken). The source is read only in `fill()`, so an endless or slow
 * source is never read ahead. Tasks are taken in input order (`ordered`) or
 * in completion order. `close()` — after the end, an error, a `break` or a
 * kill — kills the items still in flight and closes the source; finished
 * items are discarded from the group at once, so it is left as it was found.
 */
export class MapRun<I, R> {
  readonly #spawnMember: SpawnMember;
  readonly #discard: (g: Greenlet<R | Failed>) => void;
  readonly #task: (item: I) => Promise<R | Failed>;
  readonly #source: Source<I>;
  readonly #ordered: boolean;
  readonly #limit: number;
  readonly #kind: string;
  #sourceDone = false;
  #index = 0;
  readonly #live = new Set<Greenlet<R | Failed>>();
  readonly #inOrder = new FifoStore<MapTask<R>>();
  readonly #finished = new FifoStore<MapTask<R>>();
  #wake: Waiter<void> | undefined;

  constructor(
    spawnMember: SpawnMember,
    discard: (g: Greenlet<R | Failed>) => void,
    fn: (item: I) => R | Promise<R>,
    items: Iterable<I> | AsyncIterable<I>,
    ordered: boolean,
    limit: number,
  ) {
    this.#spawnMember = spawnMember;
    this.#discard = discard;
    this.#task = catching(fn, ordered ? 'imap' : 'map');
    this.#source = open(items);
    this.#ordered = ordered;
    this.#limit = limit;
    this.#kind = ordered ? 'Group.imap' : 'Group.imapUnordered';
  }

  /** True once the source is exhausted and every task was taken. */
  get done(): boolean {
    return this.#sourceDone && this.#live.size === 0;
  }

  /** True while more items could be started now: the source is not exhausted and the window not full. */
  get canFill(): boolean {
    return !this.#sourceDone && this.#live.size < this.#limit;
  }

  /** Read and start items until `limit` are in flight or the source ends. */
  async fill(): Promise<void> {
    while (!this.#sourceDone && this.#live.size < this.#limit) {
      let next: IteratorResult<I> | Promise<IteratorResult<I>>;
      try {
        next = this.#source.next();
        if (isPromise(next)) next = await next;
      } catch (err) {
        this.#sourceDone = true;
        throw err;
      }
      if (next.done) {
        this.#sourceDone = true;
        return;
      }
      let g = this.#spawnMember(this.#task, next.value);
      if (isPromise(g)) g = await g;
      this.#track(g);
    }
  }

  /** A finished task, in the run's order, if one is ready now. */
  take(): MapTask<R> | undefined {
    let task: MapTask<R> | undefined;
    if (this.#ordered) {
      if (this.#inOrder.size > 0 && this.#inOrder.peek().greenlet.dead) task = this.#inOrder.take();
    } else if (this.#finished.size > 0) {
      task = this.#finished.take();
    }
    if (task) {
      this.#live.delete(task.greenlet);
      // Dead already; its group link may not have run yet, and the caller should see the group as it was.
      this.#discard(task.greenlet);
    }
    return task;
  }

  /** Wait until a task in flight finishes. */
  async waitForOne(): Promise<void> {
    const wake = new Waiter<void>(this.#kind);
    this.#wake = wake;
    try {
      await wake.get();
    } finally {
      this.#wake = undefined;
    }
  }

  /** Kill what is still in flight and close the source (if not exhausted). */
  async close(): Promise<void> {
    const live = this.#live;
    if (live.size > 0) {
      await killall(live);
      for (const g of live) this.#discard(g);
      live.clear();
    }
    if (!this.#sourceDone) {
      this.#sourceDone = true;
      await this.#source.return?.();
    }
  }

  #track(g: Greenlet<R | Failed>): void {
    const task: MapTask<R> = { index: this.#index++, greenlet: g };
    this.#live.add(g);
    if (this.#ordered) this.#inOrder.push(task);
    g.rawlink(() => {
      if (!this.#ordered) this.#finished.push(task);
      this.#wake?.switch();
    });
  }
}

/** Yield the tasks of a run one by one, filling the window as they are taken. */
export async function* tasksOf<I, R>(run: MapRun<I, R>): AsyncGenerator<MapTask<R>, void, undefined> {
  try {
    for (;;) {
      await run.fill();
      const task = run.take();
      if (task) yield task;
      else if (run.done) return;
      else if (!run.canFill) await run.waitForOne();
    }
  } finally {
    await run.close();
  }
}
