import { inspect } from 'node:util';
import { codedError, GreenletExit } from './errors.js';
import type { Timer } from './hub/index.js';
import { noteActivity } from './internal/activity.js';
import { currentGreenlet, FOLLOWED, leaveGreenlet, runAs } from './internal/current.js';
import { enqueue } from './internal/run-queue.js';
import { getHub } from './registry.js';
import { reportError } from './report-error.js';
import { Timeout } from './timeout.js';
import { type Interruptible, NO_THROW, Waiter } from './waiter.js';

/** Anything `wait()`, `iwait()` and `joinall()` can wait for: Greenlet, Event, AsyncResult... */
export interface Waitable {
  ready(): boolean;
  /** Call `cb(this)` from the hub once ready (at once, on a later turn, if already ready). */
  rawlink(cb: (w: this) => void): void;
  unlink(cb: (w: this) => void): void;
}

const NEW = 0;
const SCHEDULED = 1;
const RUNNING = 2;
const DEAD = 3;
const STATE_NAMES = ['new', 'scheduled', 'running', 'dead'] as const;

type LinkKind = 0 | 1 | 2 | 3; // raw, spawned, on value, on exception
type LinkCallback = (g: never) => unknown;

const FAILED = 1;
const LINKS_SCHEDULED = 2;
const QUEUED = 4;
const QUIET = 8;

/** State most greenlets never need, allocated on first use to keep spawn cheap. */
interface Rare {
  startTimer: Timer | undefined;
  moreWaits: Set<Interruptible> | undefined;
  pendingThrow: unknown;
  pendingSource: unknown;
  abort: AbortController | undefined;
  killedWith: unknown;
}

// Live greenlets form an intrusive doubly linked list: O(1) with no allocation.
let liveHead: Greenlet<unknown> | undefined;
let liveCount = 0;
let nextId = 1;
// spawn() hands its rest-args array over without a second copy.
let handedArgs: unknown[] | undefined;

/**
 * An async function run under the hub, with an identity, a result, links,
 * and the ability to be killed — gevent's Greenlet.
 *
 * It is deliberately not a thenable: read the result with `get()` or wait
 * with `join()`, never `await g`.
 *
 * @example
 * const g = spawn(async (url: string) => (await fetch(url)).status, 'http://127.0.0.1:8080/');
 * console.log(await g.get({ timeout: 5000 }));
 */
export class Greenlet<T = unknown> implements Waitable {
  readonly id: number;
  /** `performance.now()` when created. */
  readonly createdAt: number;
  /** A name given, or (see `_nameFrom`) where to take its prefix from when it is asked for. */
  #name: string | { readonly name: string } | undefined;
  #fnName: string;
  #spawner: Greenlet<unknown> | undefined;
  #prev: Greenlet<unknown> | undefined;
  #next: Greenlet<unknown> | undefined;
  #fn: ((...args: never[]) => T | Promise<T>) | undefined;
  #args: unknown[] | undefined;
  #state = NEW;
  #value: T | GreenletExit | undefined;
  #exception: unknown;
  #flags = 0;
  /** Flat pairs [callback, kind, callback, kind, ...]: one array, no object per link. */
  /** A lone rawlink is kept as the bare function (join, joinall): no array at all. */
  #links: LinkCallback | Array<LinkCallback | LinkKind> | undefined;
  #wait: Interruptible | undefined;
  #rare: Rare | undefined;
  /**
   * @internal For sync's `Group`: the first of this greenlet's group memberships
   * (each names the next). On the greenlet, so that a group tracks members without
   * a hash table: V8's Set and Map, churned by many short-lived members, kept dead
   * ones alive across young-generation collections (promoted, then collected late).
   */
  _membership: object | undefined = undefined;

  constructor(fn: (...args: never[]) => T | Promise<T>, ...args: unknown[]) {
    const given = handedArgs;
    handedArgs = undefined;
    if (typeof fn !== 'function') {
      throw codedError(
        new TypeError(`Greenlet needs a function to run, got ${typeof fn}`),
        'ERR_INVALID_ARG_TYPE',
      );
    }
    this.#fn = fn;
    this.#fnName = fn.name;
    this.#args = given ?? args;
    this.id = nextId++;
    this.#spawner = currentGreenlet<Greenlet<unknown>>();
    this.createdAt = performance.now();
  }

  /** Shown in errors and `formatRunInfo()`; defaults to the function's name and a number: `handler#12`. */
  get name(): string {
    const name = this.#name;
    if (typeof name === 'string') return name;
    return `${name === undefined ? this.#fnName || 'greenlet' : name.name}#${this.id}`;
  }

  set name(value: string) {
    this.#name = String(value);
  }

  /**
   * @internal Name this greenlet `<source.name>#<id>`, made only when asked
   * for: a server names each handler after its connection's address, and an
   * idle connection should not pay for the string.
   */
  _nameFrom(source: { readonly name: string }): void {
    this.#name = source;
  }

  /** Name of the greenlet that spawned this one (`main` outside any greenlet). */
  get spawner(): string {
    return this.#spawner?.name ?? 'main';
  }

  /** @internal Set by `run()`: its caller receives the error, so it is not reported as well. */
  set _quiet(on: boolean) {
    this.#flags = on ? this.#flags | QUIET : this.#flags & ~QUIET;
  }

  #rareState(): Rare {
    return (this.#rare ??= {
      startTimer: undefined,
      moreWaits: undefined,
      pendingThrow: NO_THROW,
      pendingSource: undefined,
      abort: undefined,
      killedWith: NO_THROW,
    });
  }

  #addLive(): void {
    const head = liveHead;
    this.#next = head;
    if (head) head.#prev = this as Greenlet<unknown>;
    liveHead = this as Greenlet<unknown>;
    liveCount++;
  }

  #removeLive(): void {
    const prev = this.#prev;
    const next = this.#next;
    if (prev) prev.#next = next;
    else if (liveHead === this) liveHead = next;
    else return; // not in the list
    if (next) next.#prev = prev;
    this.#prev = undefined;
    this.#next = undefined;
    liveCount--;
  }

  /** @internal Walk the live list (oldest last). */
  static _live(): Greenlet<unknown>[] {
    const out: Greenlet<unknown>[] = [];
    for (let g = liveHead; g; g = g.#next) out.push(g);
    return out;
  }

  /** Schedule the greenlet for the next hub turn. Starting again (even after it ended) does nothing. */
  start(): void {
    if (this.#state !== NEW) return;
    this.#state = SCHEDULED;
    this.#addLive();
    this.#flags |= QUEUED;
    enqueue(this);
    // A greenlet about to run means the hub is not idle yet: idle() waits for it too.
    noteActivity();
  }

  /** Schedule the greenlet to start `ms` from now. */
  startLater(ms: number): void {
    if (this.#state !== NEW) return;
    if (!(ms >= 0))
      throw codedError(new RangeError(`startLater(ms) needs ms >= 0, got ${ms}`), 'ERR_OUT_OF_RANGE');
    this.#state = SCHEDULED;
    this.#addLive();
    const timer = getHub().timer(ms);
    this.#rareState().startTimer = timer;
    timer.start(() => {
      timer.close();
      this.#rare!.startTimer = undefined;
      this.#run();
    });
  }

  /** True while started and not yet ended (gevent's `bool(greenlet)`). */
  get started(): boolean {
    return this.#state === SCHEDULED || this.#state === RUNNING;
  }

  /** True once ended: finished, failed, or killed (including killed before it ran). */
  get dead(): boolean {
    return this.#state === DEAD;
  }

  /** Same as `dead`: the result is available. */
  ready(): boolean {
    return this.#state === DEAD;
  }

  /** Ended without an error; ending with `GreenletExit` counts as success. */
  successful(): boolean {
    return this.#state === DEAD && (this.#flags & FAILED) === 0;
  }

  /** The return value; the `GreenletExit` instance if killed with one; undefined before the end. */
  get value(): T | GreenletExit | undefined {
    return this.#value;
  }

  /** The error it failed with, or undefined. */
  get exception(): unknown {
    return this.#exception;
  }

  /** Aborted with the kill error when the greenlet is killed: pass it to `fetch`, `fs`, `events.once`... */
  get signal(): AbortSignal {
    const rare = this.#rareState();
    if (!rare.abort) {
      rare.abort = new AbortController();
      if (rare.killedWith !== NO_THROW) rare.abort.abort(rare.killedWith);
    }
    return rare.abort.signal;
  }

  /** What the greenlet is blocked on right now (`'sleep'`, `'join'`...), or undefined. */
  get waitingOn(): string | undefined {
    if (this.#wait) return this.#wait.kind;
    const first = this.#rare?.moreWaits?.values().next().value;
    return first?.kind;
  }

  /** 'new' | 'scheduled' | 'running' | 'dead' — 'running' includes blocked in a wait. */
  get state(): (typeof STATE_NAMES)[number] {
    return STATE_NAMES[this.#state]!;
  }

  /**
   * Wait until the greenlet ends. Never throws because of the greenlet or the timeout
   * (only an aborted `opts.signal`, a kill or a Timeout aimed at the caller interrupt it).
   * @returns true if it ended, false if `timeout` ran out first.
   */
  async join(timeout?: number, opts?: { signal?: AbortSignal }): Promise<boolean> {
    if (this.#state === DEAD) return true;
    const waiter = new Waiter<unknown>('join');
    const wake = (): void => {
      waiter.switch(true);
    };
    this.rawlink(wake);
    try {
      return (await waiter.get({ timeout, timeoutValue: false, signal: opts?.signal })) === true;
    } finally {
      this.unlink(wake);
    }
  }

  /**
   * The greenlet's value, waiting for it if needed.
   * @throws the greenlet's error; `Timeout` if `timeout` runs out or `block` is false and it is not done.
   */
  async get(opts?: { block?: boolean; timeout?: number; signal?: AbortSignal }): Promise<T> {
    if (this.#state !== DEAD) {
      if (opts?.block === false) throw new Timeout(0, `${this} has not finished (get with block: false)`);
      const timeout = opts?.timeout;
      if (!(await this.join(timeout, opts))) throw new Timeout(timeout);
    }
    if (this.#flags & FAILED) throw this.#exception;
    return this.#value as T;
  }

  /**
   * Throw `error` (default `GreenletExit`) into the greenlet at its current or
   * next greenhub wait, and abort its `signal`. A greenlet killed before it
   * started never runs. Never throws.
   *
   * @param opts.block wait until it has ended (default true), at most `timeout` ms.
   */
  async kill(
    error: unknown = new GreenletExit(),
    opts?: { block?: boolean; timeout?: number; signal?: AbortSignal },
  ): Promise<void> {
    if (this.#state === DEAD) return;
    if (typeof error === 'function') error = new (error as new () => unknown)();
    this._killNow(error);
    if (opts?.block !== false) await this.join(opts?.timeout, opts);
  }

  /** @internal Deliver a kill synchronously (killall batches these). */
  _killNow(error: unknown): void {
    if (this.#state === DEAD) return;
    const rare = this.#rareState();
    if (rare.killedWith === NO_THROW) {
      rare.killedWith = error;
      rare.abort?.abort(error);
    }
    if (this.#state === NEW || this.#state === SCHEDULED) {
      // A queued start finds the greenlet dead and does nothing.
      rare.startTimer?.close();
      rare.startTimer = undefined;
      this.#die(error, error instanceof GreenletExit);
      return;
    }
    this._throwIn(error, undefined);
  }

  /** Call `cb(this)` in a new greenlet once this one ends (at once if it already has). */
  link(cb: (g: Greenlet<T>) => unknown): void {
    this.#addLink(cb, 1);
  }

  /** Like `link`, only if the greenlet ends successfully. */
  linkValue(cb: (g: Greenlet<T>) => unknown): void {
    this.#addLink(cb, 2);
  }

  /** Like `link`, only if the greenlet fails. */
  linkException(cb: (g: Greenlet<T>) => unknown): void {
    this.#addLink(cb, 3);
  }

  /** Call `cb(this)` from the hub once the greenlet ends; `cb` must not block. */
  rawlink(cb: (g: this) => void): void {
    this.#addLink(cb, 0);
  }

  /** Remove a callback added by any of the link methods; unknown callbacks are ignored. */
  unlink(cb: (g: never) => unknown): void {
    const links = this.#links;
    if (links === cb) this.#links = undefined;
    else if (Array.isArray(links)) {
      for (let i = links.length - 2; i >= 0; i -= 2) {
        if (links[i] === cb) links.splice(i, 2);
      }
    }
  }

  toString(): string {
    return `Greenlet<${this.name}>`;
  }

  [inspect.custom](): string {
    const extra = this.#state === RUNNING && this.waitingOn ? `, waiting on ${this.waitingOn}` : '';
    return `Greenlet<${this.name}> (${this.state}${extra})`;
  }

  /** @internal The root greenlet is running from the start and is never scheduled. */
  _markRoot(): void {
    this.#state = RUNNING;
    this.#fn = undefined;
    this.#args = undefined;
  }

  // ---- internal: the waiting mechanism --------------------------------------------------------------

  /** @internal */
  _addWait(waiter: Interruptible): void {
    if (!this.#wait) this.#wait = waiter;
    else (this.#rareState().moreWaits ??= new Set()).add(waiter);
  }

  /** @internal */
  _removeWait(waiter: Interruptible): void {
    if (this.#wait === waiter) this.#wait = undefined;
    else this.#rare?.moreWaits?.delete(waiter);
  }

  /** @internal An error aimed at this greenlet that found it between waits. */
  _takePendingThrow(): unknown {
    const rare = this.#rare;
    if (rare === undefined) return NO_THROW;
    const pending = rare.pendingThrow;
    if (pending !== NO_THROW) {
      rare.pendingThrow = NO_THROW;
      rare.pendingSource = undefined;
    }
    return pending;
  }

  /** @internal Throw into every current wait, or keep the error for the next one. */
  _throwIn(error: unknown, source: unknown): void {
    if (this.#state === DEAD) return;
    const first = this.#wait;
    const more = this.#rare?.moreWaits;
    if (!first && !more?.size) {
      const rare = this.#rareState();
      rare.pendingThrow = error;
      rare.pendingSource = source;
      return;
    }
    if (more?.size) for (const waiter of [...more]) waiter.throw(error);
    first?.throw(error);
  }

  /** @internal A Timeout was cancelled: drop its error if it never reached a wait. */
  _withdraw(source: unknown): void {
    const rare = this.#rare;
    if (rare && source !== undefined && rare.pendingSource === source) {
      rare.pendingThrow = NO_THROW;
      rare.pendingSource = undefined;
    }
  }

  // ---- internal: life cycle ------------------------------------------------------------------------

  #run(): void {
    if (this.#state !== SCHEDULED) return;
    this.#state = RUNNING;
    noteActivity();
    const fn = this.#fn!;
    const args = this.#args!;
    this.#fn = undefined;
    this.#args = undefined;
    let result: T | Promise<T> | typeof FOLLOWED;
    try {
      // The usual case, an async function's promise, is followed by callbacks shared by every greenlet.
      result = runAs(
        this,
        fn as (...a: unknown[]) => T | Promise<T>,
        args,
        Greenlet.#ranToValue,
        Greenlet.#ranToError,
      );
    } catch (err) {
      this.#die(err, err instanceof GreenletExit);
      return;
    }
    if (result === FOLLOWED) return;
    if (result !== null && typeof (result as Promise<T>)?.then === 'function') {
      (result as Promise<T>).then(
        (value) => this.#die(value, true),
        (err) => this.#die(err, err instanceof GreenletExit),
      );
    } else {
      this.#die(result, true);
    }
  }

  /** The run's promise fulfilled: called as the greenlet (see `runAs`), which then ends outside itself. */
  static #ranToValue(value: unknown): void {
    const g = currentGreenlet<Greenlet<unknown>>()!;
    leaveGreenlet();
    g.#die(value, true);
  }

  static #ranToError(err: unknown): void {
    const g = currentGreenlet<Greenlet<unknown>>()!;
    leaveGreenlet();
    g.#die(err, err instanceof GreenletExit);
  }

  #die(result: unknown, ok: boolean): void {
    if (this.#state === DEAD) return;
    this.#state = DEAD;
    this.#spawner = undefined;
    this.#fn = undefined;
    this.#args = undefined;
    if (this.#rare) {
      this.#rare.pendingThrow = NO_THROW;
      this.#rare.pendingSource = undefined;
    }
    this.#removeLive();
    if (ok) {
      this.#value = result as T | GreenletExit;
    } else {
      this.#flags |= FAILED;
      this.#exception = result;
      if ((this.#flags & QUIET) === 0) reportError(result, String(this));
    }
    const links = this.#links;
    if (links !== undefined && (typeof links === 'function' || links.length > 0)) this.#scheduleLinks();
  }

  #addLink(cb: LinkCallback, kind: LinkKind): void {
    if (typeof cb !== 'function') {
      throw codedError(
        new TypeError(`link callback must be a function, got ${typeof cb}`),
        'ERR_INVALID_ARG_TYPE',
      );
    }
    const links = this.#links;
    if (links === undefined) {
      this.#links = kind === 0 ? cb : [cb, kind];
    } else if (typeof links === 'function') {
      this.#links = [links, 0, cb, kind];
    } else {
      links.push(cb, kind);
    }
    if (this.#state === DEAD) this.#scheduleLinks();
  }

  #scheduleLinks(): void {
    const flags = this.#flags;
    if (flags & LINKS_SCHEDULED) return;
    this.#flags = flags | LINKS_SCHEDULED | QUEUED;
    if ((flags & QUEUED) === 0) enqueue(this);
  }

  /** @internal Called by the run queue: start, or fire links once dead. */
  _runQueued(): void {
    this.#flags &= ~QUEUED;
    if (this.#state === SCHEDULED) this.#run();
    else if (this.#state === DEAD && this.#flags & LINKS_SCHEDULED) this.#fireLinks();
  }

  #fireLinks(): void {
    this.#flags &= ~LINKS_SCHEDULED;
    const links = this.#links;
    if (links === undefined) return;
    if (typeof links === 'function') {
      this.#links = undefined;
      this.#callRawLink(links);
      return;
    }
    // Links fire in the order added; one may unlink those after it.
    while (links.length > 0) {
      const cb = links.shift() as LinkCallback;
      const kind = links.shift() as LinkKind;
      const failed = (this.#flags & FAILED) !== 0;
      if ((kind === 2 && failed) || (kind === 3 && !failed)) continue;
      if (kind === 0) {
        this.#callRawLink(cb);
      } else {
        const linked = new Greenlet(cb as (g: Greenlet<T>) => unknown, this);
        linked.name = `link:${this.name}#${linked.id}`;
        linked.start();
      }
    }
  }

  #callRawLink(cb: LinkCallback): void {
    try {
      (cb as (g: this) => void)(this);
    } catch (err) {
      reportError(err, `link of ${this}`);
    }
  }
}

/** The root greenlet: code outside any greenlet runs as `main`. It never runs a function and never dies. */
const main = new Greenlet<never>(function main(): never {
  throw new Error('the main greenlet is never run');
});
main.name = 'main';
main._markRoot();

/**
 * The greenlet running now; the root greenlet `main` outside any greenlet.
 * Works across awaits; plain callbacks (timers, events, hub callbacks) run as
 * `main`, as gevent's run in the hub.
 */
export function getcurrent(): Greenlet<unknown> {
  return currentGreenlet<Greenlet<unknown>>() ?? (main as Greenlet<unknown>);
}

/** The root greenlet. */
export function getMainGreenlet(): Greenlet<unknown> {
  return main as Greenlet<unknown>;
}

/** @internal Every greenlet started and not yet ended, newest first. */
export function liveGreenlets(): Greenlet<unknown>[] {
  return Greenlet._live();
}

/** @internal How many greenlets are started and not yet ended. */
export function liveGreenletCount(): number {
  return liveCount;
}

/**
 * Create a greenlet running `fn(...args)` and schedule it for the next hub
 * turn. Never runs it synchronously.
 *
 * @example
 * const g = spawn(async (n: number) => n * 2, 21);
 * await g.get(); // 42
 */
export function spawn<A extends unknown[], T>(fn: (...args: A) => T | Promise<T>, ...args: A): Greenlet<T> {
  handedArgs = args;
  const g = new Greenlet<T>(fn as unknown as (...a: never[]) => T | Promise<T>);
  g.start();
  return g;
}

/** Like `spawn`, but starts the greenlet `ms` from now. */
export function spawnLater<A extends unknown[], T>(
  ms: number,
  fn: (...args: A) => T | Promise<T>,
  ...args: A
): Greenlet<T> {
  const g = new Greenlet<T>(fn as unknown as (...a: never[]) => T | Promise<T>, ...args);
  g.startLater(ms);
  return g;
}
