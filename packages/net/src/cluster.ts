import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { codedError, GreenletExit, getcurrent, run } from '@greenhub/core';

/** Options of {@link serveOnAllCores}; read in the primary only. */
export interface ServeOnAllCoresOptions {
  /** Worker processes to keep running (default `os.availableParallelism()`). */
  workers?: number;
  /**
   * Replace a worker that crashes (exits with a non-zero code or a signal while
   * the primary is not stopping); default true. A worker that crashes within
   * {@link STARTUP_GRACE_MS} of its start is never replaced: that is a startup
   * failure (a port in use, `reusePort` unsupported), which restarting would
   * turn into a crash loop.
   */
  restart?: boolean;
  /** How long workers may take to stop gracefully before they get SIGKILL, in ms (default 10 000). */
  stopTimeout?: number;
  /** Where the primary reports crashes and restarts, one line each (default `console.error`). */
  log?: (line: string) => void;
}

/** A worker that crashes sooner than this after its start (ms) is not restarted. */
export const STARTUP_GRACE_MS = 1000;

const EXIT_CODES: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };
const FAILED = 'greenhub:serveOnAllCores:failed';

interface FailedMessage {
  type: typeof FAILED;
  message: string;
  code?: string;
}

function isFailedMessage(m: unknown): m is FailedMessage {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === FAILED;
}

/**
 * Run `main` in one worker process per core with `node:cluster`, each worker
 * inside core's `run()` on its own hub. Call it at the top level of the
 * program's entry module, not inside `run()`: the primary runs no hub, it only
 * keeps the workers running.
 *
 * `main` must listen with `reusePort: true` on a fixed port (for instance
 * `new HttpServer({ port: 8080, reusePort: true }, fetch)`): each worker binds
 * the port itself and the kernel (`SO_REUSEPORT`, Linux) spreads incoming
 * connections over them. node:cluster's handle sharing does not apply: hubs
 * bind synchronously, outside cluster's `listen()`. So this works on hub-libev,
 * and on hub-pure only from Node 22.12 / 23.1 (whose `net` has `reusePort`);
 * on Node 20 hub-pure's `listen()` throws `ERR_NOT_SUPPORTED` in every worker
 * and the promise rejects with that error.
 *
 * - **Stopping:** SIGINT or SIGTERM to the primary stops every worker
 *   gracefully (`main`'s greenlet is killed with a `GreenletExit`, as a signal
 *   does under `run()`, so servers `stop()`), waits up to `stopTimeout`, then
 *   SIGKILLs what is left, and resolves; `process.exitCode` becomes 130 / 143.
 *   A second signal SIGKILLs the workers at once. Workers whose primary dies
 *   exit at once (node:cluster does that).
 * - **Crashes** are reported through `log` and the worker is replaced (see
 *   `restart`). A worker whose `main` returns is not replaced; once every
 *   worker has exited without being replaced, the promise resolves — or, if
 *   the last one crashed, rejects with its error (`code` from the worker's
 *   error, else `ERR_WORKER_EXITED`).
 *
 * @param main the server program of one worker; runs in a greenlet under `run()` in each worker.
 * @param opts `workers`, `restart`, `stopTimeout`, `log` (see {@link ServeOnAllCoresOptions}).
 * @returns in the primary, settles when every worker has exited; in a worker, `run(main)`'s promise.
 * @throws `ERR_OUT_OF_RANGE` for a `workers` count that is not a positive integer.
 * @example
 * import { HttpServer, Response, serveOnAllCores } from '@greenhub/net';
 *
 * await serveOnAllCores(async () => {
 *   const server = new HttpServer({ port: 8080, reusePort: true }, () => new Response(`hi from ${process.pid}`));
 *   await server.serveForever();
 * });
 */
export function serveOnAllCores(main: () => unknown, opts: ServeOnAllCoresOptions = {}): Promise<void> {
  if (cluster.isPrimary) return runPrimary(opts);
  return runWorker(main);
}

function runWorker(main: () => unknown): Promise<void> {
  return run(async function clusterWorker() {
    const me = getcurrent();
    // The primary stops a worker by disconnecting it rather than by a signal: a
    // Ctrl-C in a terminal already sent SIGINT to every worker, and a second
    // signal would skip run()'s graceful stop.
    const onDisconnect = (): void => {
      if (!me.dead && !me.signal.aborted) {
        void me.kill(new GreenletExit('stopped by the cluster primary'), { block: false });
      }
    };
    process.once('disconnect', onDisconnect);
    try {
      await main();
    } catch (err) {
      if (!(err instanceof GreenletExit) && process.connected) {
        const e = err as { message?: unknown; code?: unknown };
        const failed: FailedMessage = {
          type: FAILED,
          message: String(e?.message ?? err),
          code: typeof e?.code === 'string' ? e.code : undefined,
        };
        process.send?.(failed);
      }
      throw err;
    } finally {
      // A 'disconnect' listener keeps the IPC channel referenced, and with it the process.
      process.off('disconnect', onDisconnect);
    }
  });
}

function runPrimary(opts: ServeOnAllCoresOptions): Promise<void> {
  const count = opts.workers ?? availableParallelism();
  if (!Number.isInteger(count) || count < 1) {
    return Promise.reject(
      codedError(new RangeError(`workers must be a positive integer, got ${count}`), 'ERR_OUT_OF_RANGE'),
    );
  }
  const restart = opts.restart ?? true;
  const stopTimeout = opts.stopTimeout ?? 10_000;
  const log = opts.log ?? ((line: string) => console.error(line));

  return new Promise<void>((resolve, reject) => {
    const live = new Set<Worker>();
    let stopping = false;
    let killTimer: NodeJS.Timeout | undefined;
    let lastFailure: Error | undefined;

    const finish = (): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      clearTimeout(killTimer);
      if (lastFailure && !stopping) reject(lastFailure);
      else resolve();
    };

    const killAll = (): void => {
      for (const w of live) w.process.kill('SIGKILL');
    };

    const fork = (): void => {
      const startedAt = performance.now();
      const worker = cluster.fork();
      let failure: FailedMessage | undefined;
      live.add(worker);
      worker.on('message', (m: unknown) => {
        if (isFailedMessage(m)) failure = m;
      });
      worker.on('error', () => {}); // an IPC send to a dying worker; its 'exit' tells the rest
      worker.once('exit', (code: number | null, signal: NodeJS.Signals | null) => {
        live.delete(worker);
        const pid = worker.process.pid;
        if (stopping || (code === 0 && signal === null)) {
          if (live.size === 0) finish();
          return;
        }
        const how = signal ? `signal ${signal}` : `code ${code}`;
        const why = failure ? `: ${failure.code ? `${failure.code} ` : ''}${failure.message}` : '';
        const early = performance.now() - startedAt < STARTUP_GRACE_MS;
        const replace = restart && !early;
        log(
          `serveOnAllCores: worker ${pid} exited with ${how}${why}${
            replace ? '; starting another' : early ? ' during startup; not restarted' : '; not restarted'
          }`,
        );
        lastFailure = codedError(
          new Error(`worker ${pid} exited with ${how}${why}`),
          failure?.code ?? 'ERR_WORKER_EXITED',
        );
        if (replace) fork();
        else if (live.size === 0) finish();
      });
    };

    function onSignal(signal: NodeJS.Signals): void {
      if (stopping) {
        killAll();
        return;
      }
      stopping = true;
      if (process.exitCode === undefined) process.exitCode = EXIT_CODES[signal] ?? 1;
      for (const w of live) {
        if (w.isConnected()) w.disconnect();
        else w.process.kill('SIGTERM');
      }
      killTimer = setTimeout(killAll, stopTimeout);
    }

    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    for (let i = 0; i < count; i++) fork();
  });
}
