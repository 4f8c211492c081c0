import { promiseHooks } from 'node:v8';

/**
 * Which greenlet is running: the one whose code is on the stack, followed
 * across awaits by V8's promise hooks.
 *
 * A promise made while a greenlet runs is tagged with it, and a promise
 * reaction (the code after an `await`, a `then()` callback) runs as the
 * greenlet its promise was tagged with. So `getcurrent()` works across
 * awaits, as it did with `AsyncLocalStorage`, at a fraction of the cost on
 * Node 20: AsyncLocalStorage runs Node's async_hooks machinery for every
 * promise (an async id, a trigger id and a store per promise, a context push
 * and pop per reaction) and for every native request (each write of a
 * node:net socket). Measured on the echo benchmark (server CPU per round
 * trip, 50 connections): hub-pure 13.2 → 12.0 µs, hub-libev 9.8 → 9.6 µs.
 *
 * Plain callbacks (hub callbacks, timers, events, `queueMicrotask`,
 * `process.nextTick`) are not promise reactions: they run as whoever is on
 * the stack, which from the event loop is nobody, i.e. `main` — gevent's
 * callbacks run in the hub, not in the greenlet that scheduled them.
 */
let running: object | undefined;
/** What `running` was before each promise reaction in progress (reactions do not nest, but be safe). */
const outer: Array<object | undefined> = [];
const TAG: unique symbol = Symbol('greenhub.greenlet');

type Tagged = Promise<unknown> & { [TAG]?: object };

let hooked = false;

function hook(): void {
  hooked = true;
  promiseHooks.createHook({
    // Only a promise made from another (a `then()`'s, an `await`'s) runs reactions that continue
    // someone's code: a tag on every promise would cost each one a property array (40 bytes, and an
    // idle connection keeps several).
    init(promise: Tagged, parent: Promise<unknown> | undefined) {
      if (running !== undefined && parent !== undefined) promise[TAG] = running;
    },
    before(promise: Tagged) {
      outer.push(running);
      running = promise[TAG];
    },
    after() {
      running = outer.pop();
    },
  });
}

/** The greenlet running now, or undefined outside any (the caller says `main`). */
export function currentGreenlet<G extends object>(): G | undefined {
  return running as G | undefined;
}

/** What {@link runAs} returns when it followed `fn`'s promise itself. */
export const FOLLOWED: unique symbol = Symbol('greenhub.followed');

/**
 * Call `fn(...args)` as `greenlet`: it, and every promise reaction it leads
 * to, see it as current. When `fn` returns a plain native promise and
 * `onValue`/`onError` are given, they follow it, called as `greenlet` too, so
 * that they can be shared by every greenlet (no closures per greenlet) and
 * find it with `currentGreenlet()`; only a plain promise's reactions are sure
 * to run under the hooks.
 *
 * @returns `FOLLOWED` when the callbacks follow the result, else what `fn` returned.
 */
export function runAs<R>(
  greenlet: object,
  fn: (...args: unknown[]) => R,
  args: unknown[],
  onValue?: (value: unknown) => void,
  onError?: (error: unknown) => void,
): R | typeof FOLLOWED {
  if (!hooked) hook();
  const before = running;
  running = greenlet;
  try {
    const result = fn(...args);
    if (
      onValue !== undefined &&
      result !== null &&
      typeof result === 'object' &&
      Object.getPrototypeOf(result) === Promise.prototype
    ) {
      (result as unknown as Promise<unknown>).then(onValue, onError);
      return FOLLOWED;
    }
    return result;
  } finally {
    running = before;
  }
}

/** From here to the end of the current callback or promise reaction, run as no greenlet (`main`). */
export function leaveGreenlet(): void {
  running = undefined;
}
