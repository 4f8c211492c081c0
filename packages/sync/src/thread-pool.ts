import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { codedError, getSettings, Timeout, Waiter } from '@greenhub/core';
import { reviveThrown } from './internal/thread-pool-errors.js';
import {
  type CancelMessage,
  type DoneMessage,
  type RunMessage,
  WORKER_SOURCE,
} from './internal/thread-pool-worker.js';

export type { ThreadPoolTaskContext } from './internal/thread-pool-worker.js';

/** Options of {@link ThreadPool}. */
export interface ThreadPoolOptions {
  /** The task module (path or `file:` URL, ESM or CommonJS); its exported functions are the tasks. */
  filename: string | URL;
  /** Most worker threads at once. Default `configure({ threadpoolSize })`, `GREENHUB_THREADPOOL_SIZE`, or 4. */
  size?: number;
}

/** Options of {@link ThreadPool.runWith}. */
export interface ThreadPoolRunOptions {
  /** Stop waiting after this many ms: rejects with a `Timeout` and cancels the task. */
  timeout?: number;
  /** Stop waiting when aborted: rejects with `signal.reason` and cancels the task. */
  signal?: AbortSignal;
}

/** Counts of a {@link ThreadPool}'s workers and tasks. */
export interface ThreadPoolStats {
  /** Worker threads alive (started lazily, at most `size`). */
  workers: number;
  /** Workers running a task (including cancelled tasks that have not stopped yet). */
  busy: number;
  /** Tasks waiting for a free worker. */
  queued: number;
}

interface Task {
  readonly id: number;
  readonly name: string;
  readonly args: unknown[];
  readonly waiter: Waiter<unknown>;
  /** queued → running → settled; or straight to settled when dropped, cancelled or destroyed. */
  state: 'queued' | 'running' | 'settled';
}

interface Slot {
  readonly worker: Worker;
  readonly threadId: number;
  task: Task | undefined;
  /** The caller of the running task gave up: its result is discarded. */
  cancelled: boolean;
  crash: unknown;
  terminating: boolean;
}

const TIMED_OUT: unique symbol = Symbol('ThreadPool.timedOut');

/**
 * A pool of worker threads running the exported functions of one module —
 * gevent's `ThreadPool` on Node's `worker_threads`, for CPU-bound or blocking
 * work that would otherwise stall the hub.
 *
 * Workers start lazily, up to `size`; tasks queue FIFO when all are busy.
 * Arguments and results cross threads by structured clone. The caller waits
 * like any greenhub wait, so `kill()`, a firing `Timeout` or an aborted signal
 * stop the wait at once and cancel that task only: a queued task is dropped; a
 * running one sees `this.signal` abort (a cooperative task stops; one that
 * ignores it runs to completion, its result is discarded, and its worker then
 * serves the next task). No worker is terminated for a cancel, unlike piscina.
 *
 * A task function receives the arguments given to `run()`, and `this` is a
 * {@link ThreadPoolTaskContext} (`{ signal, name }`) — write it as a `function`,
 * not an arrow, to read it. Idle workers do not keep the process alive.
 *
 * @example
 * // tasks.mjs: export async function hash(data) { ... }
 * //            export async function fetchAll(urls) { return Promise.all(urls.map((u) => fetch(u, { signal: this.signal }))) }
 * await using pool = new ThreadPool({ filename: new URL('./tasks.mjs', import.meta.url), size: 2 });
 * const digest = await pool.run<string>('hash', buffer);
 */
export class ThreadPool implements AsyncDisposable {
  /** Most worker threads at once. */
  readonly size: number;
  /** The task module's `file:` URL. */
  readonly moduleUrl: string;
  readonly #queue = new Set<Task>();
  readonly #slots = new Set<Slot>();
  readonly #idle: Slot[] = [];
  #nextId = 1;
  #destroyed: Promise<void> | undefined;

  /**
   * @param opts `filename` of the task module; `size` (positive integer).
   * @throws `ERR_OUT_OF_RANGE` for a bad size; `ERR_THREADPOOL_MODULE_NOT_FOUND` when the module file does not exist.
   */
  constructor(opts: ThreadPoolOptions) {
    const size = opts.size ?? getSettings().threadpoolSize;
    if (!Number.isInteger(size) || size < 1) {
      throw codedError(
        new RangeError(`ThreadPool size must be a positive integer, got ${size}`),
        'ERR_OUT_OF_RANGE',
      );
    }
    this.size = size;
    this.moduleUrl = toModuleUrl(opts.filename);
  }

  /** Counts of workers and tasks right now. */
  get stats(): ThreadPoolStats {
    let busy = 0;
    for (const slot of this.#slots) if (slot.task) busy++;
    return { workers: this.#slots.size, busy, queued: this.#queue.size };
  }

  /**
   * Call the task module's export `name` with `args` in a worker thread.
   *
   * @param name the exported function's name.
   * @param args its arguments (structured-cloned into the worker).
   * @returns its (awaited) result, structured-cloned back.
   * @throws what the task threw, re-created here with its name, message, `code`
   *   and worker-side stack; `ERR_THREADPOOL_UNKNOWN_TASK`,
   *   `ERR_THREADPOOL_MODULE_LOAD`, `ERR_THREADPOOL_UNCLONEABLE`,
   *   `ERR_THREADPOOL_WORKER_EXITED` / `ERR_THREADPOOL_WORKER_CRASHED` (its worker
   *   died; it is replaced), `ERR_THREADPOOL_DESTROYED`; and, as any greenhub
   *   wait, the error of a `kill()` or firing `Timeout` (the task is then cancelled).
   * @example const sum = await pool.run<number>('add', 2, 3);
   */
  run<R = unknown>(name: string, ...args: unknown[]): Promise<R> {
    return this.runWith<R>({}, name, ...args);
  }

  /**
   * {@link ThreadPool.run} with wait options: `timeout` rejects with a
   * `Timeout` (`code: 'ETIMEDOUT'`), `signal` rejects with its reason; either
   * way the task is cancelled as described on the class.
   *
   * @param opts `{ timeout?, signal? }`.
   * @param name the exported function's name.
   * @param args its arguments.
   * @returns its (awaited) result.
   * @throws as {@link ThreadPool.run}, plus the `Timeout` or the signal's reason.
   * @example const page = await pool.runWith<string>({ timeout: 5000 }, 'render', template, data);
   */
  async runWith<R = unknown>(opts: ThreadPoolRunOptions, name: string, ...args: unknown[]): Promise<R> {
    if (this.#destroyed) throw destroyedError();
    if (typeof name !== 'string') {
      throw codedError(
        new TypeError(`ThreadPool.run(name, ...args): name must be a string, got ${typeof name}`),
        'ERR_INVALID_ARG_TYPE',
      );
    }
    const task: Task = {
      id: this.#nextId++,
      name,
      args,
      waiter: new Waiter<unknown>('ThreadPool.run'),
      state: 'queued',
    };
    const waiting = task.waiter.get({ timeout: opts.timeout, signal: opts.signal, timeoutValue: TIMED_OUT });
    // Not waiting: an aborted signal or a kill already pending for this greenlet; the task never starts.
    if (task.waiter.waiting) {
      this.#queue.add(task);
      this.#dispatch();
    }
    let result: unknown;
    try {
      result = await waiting;
    } catch (error) {
      this.#cancel(task, error);
      throw error;
    }
    if (result === TIMED_OUT) {
      const timeout = new Timeout(
        opts.timeout,
        `ThreadPool task '${name}' did not finish within ${opts.timeout} ms; it was cancelled`,
      );
      this.#cancel(task, timeout);
      throw timeout;
    }
    return result as R;
  }

  /**
   * Terminate every worker. Queued and running tasks reject with
   * `ERR_THREADPOOL_DESTROYED`, and so does every later `run()`. Idempotent.
   *
   * @returns when every worker has exited.
   * @example await pool.destroy();
   */
  destroy(): Promise<void> {
    if (this.#destroyed) return this.#destroyed;
    const error = destroyedError();
    for (const task of this.#queue) this.#settle(task, error, false);
    this.#queue.clear();
    const exits: Promise<unknown>[] = [];
    for (const slot of this.#slots) {
      slot.terminating = true;
      if (slot.task) this.#settle(slot.task, error, false);
      exits.push(slot.worker.terminate());
    }
    this.#slots.clear();
    this.#idle.length = 0;
    this.#destroyed = Promise.all(exits).then(() => undefined);
    return this.#destroyed;
  }

  /** Same as {@link ThreadPool.destroy}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }

  #dispatch(): void {
    while (this.#queue.size > 0) {
      const slot = this.#idle.pop() ?? (this.#slots.size < this.size ? this.#startWorker() : undefined);
      if (!slot) return;
      const task = this.#queue.values().next().value as Task;
      this.#queue.delete(task);
      const message: RunMessage = { type: 'run', id: task.id, name: task.name, args: task.args };
      try {
        slot.worker.postMessage(message);
      } catch (error) {
        this.#idle.push(slot);
        const why = error instanceof Error ? error.message : String(error);
        this.#settle(
          task,
          codedError(
            new TypeError(
              `ThreadPool task '${task.name}': its arguments cannot be sent to a worker thread (${why}); pass plain data that structured clone accepts`,
            ),
            'ERR_THREADPOOL_UNCLONEABLE',
          ),
          false,
        );
        continue;
      }
      task.state = 'running';
      slot.task = task;
      slot.cancelled = false;
      slot.worker.ref();
    }
  }

  #startWorker(): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { moduleUrl: this.moduleUrl } });
    const slot: Slot = {
      worker,
      threadId: worker.threadId,
      task: undefined,
      cancelled: false,
      crash: undefined,
      terminating: false,
    };
    worker.unref();
    worker.on('message', (message: DoneMessage) => this.#onDone(slot, message));
    worker.on('error', (error) => {
      slot.crash = error;
    });
    worker.on('exit', (exitCode) => this.#onExit(slot, exitCode));
    this.#slots.add(slot);
    return slot;
  }

  #onDone(slot: Slot, message: DoneMessage): void {
    const task = slot.task;
    if (!task || task.id !== message.id || slot.terminating) return;
    slot.task = undefined;
    slot.worker.unref();
    if (!slot.cancelled) {
      if (message.ok) this.#settle(task, message.value, true);
      else this.#settle(task, reviveThrown(message.error, task.name, slot.threadId), false);
    }
    task.state = 'settled';
    this.#idle.push(slot);
    this.#dispatch();
  }

  #onExit(slot: Slot, exitCode: number): void {
    if (slot.terminating) return;
    this.#slots.delete(slot);
    const at = this.#idle.indexOf(slot);
    if (at >= 0) this.#idle.splice(at, 1);
    const task = slot.task;
    slot.task = undefined;
    if (task && !slot.cancelled) {
      const crash = slot.crash;
      const error =
        crash === undefined
          ? codedError(
              new Error(
                `ThreadPool task '${task.name}': its worker thread ${slot.threadId} exited with code ${exitCode} (process.exit() in a task ends its worker); the worker was replaced`,
              ),
              'ERR_THREADPOOL_WORKER_EXITED',
            )
          : Object.assign(
              codedError(
                new Error(
                  `ThreadPool task '${task.name}': its worker thread ${slot.threadId} crashed with an uncaught error (${crash instanceof Error ? crash.message : String(crash)}); the worker was replaced — catch errors in the task's callbacks and timers`,
                ),
                'ERR_THREADPOOL_WORKER_CRASHED',
              ),
              { cause: crash },
            );
      this.#settle(task, error, false);
    }
    if (task) task.state = 'settled';
    this.#dispatch();
  }

  /** The caller stopped waiting (kill, Timeout, abort): drop or cancel its task. */
  #cancel(task: Task, reason: unknown): void {
    if (task.state === 'queued') {
      this.#queue.delete(task);
      task.state = 'settled';
      return;
    }
    if (task.state !== 'running') return;
    for (const slot of this.#slots) {
      if (slot.task !== task) continue;
      slot.cancelled = true;
      // Nobody waits for the result now: let the process exit if this was the last thing it did.
      slot.worker.unref();
      const why = reason instanceof Error ? reason.message : String(reason);
      const message: CancelMessage = {
        type: 'cancel',
        id: task.id,
        reason: `ThreadPool task '${task.name}' was cancelled: ${why}`,
      };
      slot.worker.postMessage(message);
      return;
    }
  }

  #settle(task: Task, outcome: unknown, ok: boolean): void {
    task.state = 'settled';
    // false: the caller already gave up (timeout, abort, kill); the outcome has nobody to go to.
    if (ok) task.waiter.switch(outcome);
    else task.waiter.throw(outcome);
  }
}

function toModuleUrl(filename: string | URL): string {
  let url: URL;
  if (filename instanceof URL) url = filename;
  else if (typeof filename === 'string' && filename.startsWith('file:')) url = new URL(filename);
  else if (typeof filename === 'string') url = pathToFileURL(path.resolve(filename));
  else {
    throw codedError(
      new TypeError(
        `ThreadPool needs filename: a path or file: URL of the task module, got ${typeof filename}`,
      ),
      'ERR_INVALID_ARG_TYPE',
    );
  }
  if (url.protocol !== 'file:') {
    throw codedError(
      new TypeError(`ThreadPool filename must be a path or a file: URL, got ${url.href}`),
      'ERR_INVALID_ARG_VALUE',
    );
  }
  const file = fileURLToPath(url);
  if (!existsSync(file)) {
    throw codedError(
      new Error(
        `ThreadPool task module not found: ${file}; check the filename (relative paths resolve from the current directory)`,
      ),
      'ERR_THREADPOOL_MODULE_NOT_FOUND',
    );
  }
  return url.href;
}

function destroyedError(): Error {
  return codedError(
    new Error('ThreadPool was destroyed: its workers are gone; create a new ThreadPool to run more tasks'),
    'ERR_THREADPOOL_DESTROYED',
  );
}
