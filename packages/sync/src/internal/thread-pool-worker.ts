/**
 * The worker side of `ThreadPool`, and the messages both sides exchange.
 *
 * The worker is started with `eval: true` from {@link WORKER_SOURCE}, a plain
 * JavaScript string. So no worker file has to be found on disk: the pool works
 * the same from `src` (tests), from `dist` (ESM and CJS), and inside an
 * application bundle, where a separate worker file is what usually goes
 * missing. It is a string rather than a function's `toString()` because
 * bundlers and coverage tools rewrite function bodies (esbuild `keepNames`
 * with `minify` inserts calls to a renamed helper; istanbul inserts counters),
 * which would break code evaluated in another thread. Keep it plain ES2022
 * that Node 20 runs as is, and keep it in step with the message types below.
 */

/** Main → worker: run export `name` of the task module. */
export interface RunMessage {
  type: 'run';
  id: number;
  name: string;
  args: unknown[];
}

/** Main → worker: the caller stopped waiting; abort the task's signal. */
export interface CancelMessage {
  type: 'cancel';
  id: number;
  reason: string;
}

/** An error (or any thrown value) as sent across the thread boundary. */
export type SerializedThrow =
  | {
      isError: true;
      name: string;
      message: string;
      stack: string | undefined;
      props: Record<string, unknown>;
      cause?: SerializedThrow;
    }
  | { isError: false; value: unknown };

/** Worker → main: the task settled (cancelled tasks report too, so the worker is known to be free). */
export type DoneMessage =
  | { type: 'done'; id: number; ok: true; value: unknown }
  | { type: 'done'; id: number; ok: false; error: SerializedThrow };

/** What a task function finds in `this`. */
export interface ThreadPoolTaskContext {
  /** Aborted when the caller stops waiting (kill, Timeout, abort) or the pool is destroyed. */
  readonly signal: AbortSignal;
  /** The export name the task was run under. */
  readonly name: string;
}

/**
 * The script a pool's workers evaluate. It loads the task module once, then
 * for each run message calls the named export with the given arguments and
 * `this` = a {@link ThreadPoolTaskContext}, and posts back its awaited result
 * or its error (name, message, stack, cloneable own properties, cause). A
 * cancel message aborts that task's signal; a task cancelled before it
 * started is never called.
 */
export const WORKER_SOURCE = `'use strict';
const { parentPort: port, workerData } = require('node:worker_threads');
const moduleUrl = workerData.moduleUrl;
const running = new Map();
let loaded;

function coded(error, code) {
  return Object.assign(error, { code });
}

function isCloneable(value) {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

function serialize(thrown, depth) {
  if (typeof thrown !== 'object' || thrown === null || !('message' in thrown)) {
    return { isError: false, value: isCloneable(thrown) ? thrown : String(thrown) };
  }
  const props = {};
  for (const key of Object.keys(thrown)) {
    if (key === 'stack' || key === 'message' || key === 'cause') continue;
    if (isCloneable(thrown[key])) props[key] = thrown[key];
  }
  // code is sometimes a getter or not enumerable (DOMException, some Node errors).
  if (!('code' in props) && thrown.code !== undefined && isCloneable(thrown.code)) props.code = thrown.code;
  const result = {
    isError: true,
    name: String(thrown.name ?? 'Error'),
    message: String(thrown.message),
    stack: typeof thrown.stack === 'string' ? thrown.stack : undefined,
    props,
  };
  if (thrown.cause !== undefined && depth < 4) result.cause = serialize(thrown.cause, depth + 1);
  return result;
}

function isObject(value) {
  return (typeof value === 'object' || typeof value === 'function') && value !== null;
}

function findTask(mod, name) {
  if (typeof mod[name] === 'function') return mod[name];
  // A CommonJS module's exports also sit on default.
  const fallback = mod.default;
  if (isObject(fallback) && typeof fallback[name] === 'function') return fallback[name];
  const names = new Set();
  for (const [key, value] of Object.entries(mod)) if (typeof value === 'function') names.add(key);
  if (isObject(fallback)) {
    for (const [key, value] of Object.entries(fallback)) if (typeof value === 'function') names.add(key);
  }
  const list = names.size > 0 ? [...names].join(', ') : 'none';
  throw coded(
    new TypeError(
      'ThreadPool: the task module ' + moduleUrl + " has no exported function '" + name +
        "' (its function exports: " + list + '); export it, or fix the name given to run()',
    ),
    'ERR_THREADPOOL_UNKNOWN_TASK',
  );
}

async function loadModule() {
  try {
    return await import(moduleUrl);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw Object.assign(
      coded(
        new Error(
          'ThreadPool: cannot load the task module ' + moduleUrl + ': ' + message +
            "; fix the module or the pool's filename",
        ),
        'ERR_THREADPOOL_MODULE_LOAD',
      ),
      { cause: error },
    );
  }
}

async function runTask(message) {
  const controller = new AbortController();
  running.set(message.id, controller);
  let reply;
  try {
    loaded ??= loadModule();
    const task = findTask(await loaded, message.name);
    // Cancelled while the module loaded: the task never starts.
    if (controller.signal.aborted) throw controller.signal.reason;
    const value = await task.apply({ signal: controller.signal, name: message.name }, message.args);
    reply = { type: 'done', id: message.id, ok: true, value };
  } catch (error) {
    reply = { type: 'done', id: message.id, ok: false, error: serialize(error, 0) };
  }
  running.delete(message.id);
  try {
    port.postMessage(reply);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    const failure = coded(
      new TypeError(
        "ThreadPool: the result of task '" + message.name + "' cannot be sent back to the calling thread (" +
          why + '); return plain data that structured clone accepts',
      ),
      'ERR_THREADPOOL_UNCLONEABLE',
    );
    port.postMessage({ type: 'done', id: message.id, ok: false, error: serialize(failure, 0) });
  }
}

port.on('message', (message) => {
  if (message.type === 'run') {
    runTask(message);
  } else if (message.type === 'cancel') {
    const reason = new Error(message.reason);
    reason.name = 'AbortError';
    running.get(message.id)?.abort(coded(reason, 'ABORT_ERR'));
  }
});
`;
