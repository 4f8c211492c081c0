import {
  codedError,
  type Greenlet,
  GreenletExit,
  getcurrent,
  joinall,
  killall,
  registerMetric,
  reportError,
  type SocketAddress,
  sleep,
  spawn,
} from '@greenhub/core';
import { Event, Group, Pool } from '@greenhub/sync';
import {
  checkMaxAccept,
  errorCode,
  FATAL_ACCEPT_ERRORS,
  formatAddress,
  SERVER_MAX_DELAY,
  SERVER_MIN_DELAY,
  SERVER_STOP_TIMEOUT,
  type ServerSpawn,
  spawnerOf,
} from './internal/server-spawn.js';

export type { ServerSpawn } from './internal/server-spawn.js';

/** Options common to every server: how handlers are spawned and how many arrivals are taken per wake-up. */
export interface ServerOptions {
  /**
   * Where handler greenlets run: a `Pool` (accepting pauses while it is full),
   * a `Group` (no limit), or a number `n` for `new Pool(n)`. Default: a new `Group`.
   */
  spawn?: ServerSpawn;
  /** At most this many connections (or datagrams) taken in a row before the server yields (default 100, gevent's `max_accept`). */
  maxAccept?: number;
}

/**
 * @internal One arrival (a connection or a datagram) ready to be handled:
 * `run` is the handler body, `discard` releases the arrival if the handler
 * never ran or once it ended (closing a socket; idempotent).
 */
export interface ServerJob {
  /** Name prefix of the handler greenlet, e.g. `handler:127.0.0.1:40000` (`#<id>` is appended). */
  readonly name: string;
  /** The handler body, run in the handler greenlet. */
  readonly run: () => unknown;
  /** Release the arrival (e.g. close the socket); called once the handler greenlet ends, however it ends. */
  readonly discard: () => void;
}

/**
 * gevent's `BaseServer`: a serving loop greenlet that takes arrivals
 * (connections, datagrams) and runs a handler greenlet for each, through a
 * `Pool` or `Group`. Subclasses: {@link StreamServer}, {@link DatagramServer}.
 *
 * - `start()` binds (when given options) and starts the loop; calling it again is harmless.
 * - Accepting pauses while a spawn `Pool` is full; after `maxAccept` arrivals
 *   in a row the loop yields (`sleep(0)`) so handlers and other greenlets run.
 * - An accept/receive error (`EMFILE`, `ENFILE`...) is reported through core's
 *   `reportError` and the loop backs off 10 ms, doubling up to 1 s, reset by the
 *   next success; `EBADF`/`EINVAL`/`ENOTSOCK` stop the server.
 * - A handler's error is reported (the failing greenlet, named `handler:...`) and serving goes on.
 * - `stop(timeout)` closes the listening socket, waits up to `timeout` ms for
 *   the handlers, then kills those still running.
 * - `serveForever()` starts and waits until the server is stopped; killing the
 *   greenlet in it stops the server.
 *
 * Every wait is a core `Waiter`, so `kill()`, a `Timeout` and a signal interrupt them.
 *
 * @example
 * await using server = new StreamServer({ port: 0 }, echo, { spawn: 100 });
 * await server.start();
 */
export abstract class BaseServer implements AsyncDisposable {
  readonly #spawner: Pool | Group;
  readonly #maxAccept: number;
  /**
   * Running handler greenlets: the spawner itself when the server made it (all its members
   * are handlers, as in gevent, whose `stop()` kills the pool), else a Group of their own.
   * A Group, not a Map: see sync's group-members.ts on hash-table churn.
   */
  readonly #handlers: Pool | Group;
  readonly #stopped = new Event();
  #loop: Greenlet<unknown> | undefined;
  #started = false;
  #closed = false;
  #unregister: (() => void) | undefined;

  /**
   * @param opts `spawn` and `maxAccept`, see {@link ServerOptions}.
   * @throws `ERR_OUT_OF_RANGE` for a bad `maxAccept` or pool size; `ERR_INVALID_ARG_TYPE` for a bad `spawn`.
   */
  protected constructor(opts?: ServerOptions) {
    this.#spawner = spawnerOf(opts?.spawn);
    this.#handlers = opts?.spawn instanceof Group ? new Group() : this.#spawner;
    this.#maxAccept = checkMaxAccept(opts?.maxAccept);
  }

  /** The bound address. For a server given options, known once `start()` has bound it (reading it before throws `ERR_SERVER_NOT_STARTED`). */
  abstract get address(): SocketAddress;

  /** True once `start()` succeeded (it stays true after `stop()`). */
  get started(): boolean {
    return this.#started;
  }

  /** True once `stop()` was called: the server no longer accepts. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The Pool or Group handler greenlets run in. */
  get spawner(): Pool | Group {
    return this.#spawner;
  }

  /** How many handler greenlets of this server are running now. */
  get handlerCount(): number {
    return this.#handlers.size;
  }

  /** @internal Bind (if needed), synchronously; throws bind errors such as `EADDRINUSE`. */
  protected abstract _open(): void;

  /** @internal Wait for the next arrival; throws `ERR_SOCKET_CLOSED` once closed. */
  protected abstract _next(): Promise<ServerJob>;

  /** @internal An arrival that is already there, without waiting (none by default): saves `_next()`'s promises. */
  protected _nextNow(): ServerJob | undefined {
    return undefined;
  }

  /** @internal Close the listening socket (idempotent). */
  protected abstract _close(): void;

  /**
   * Bind (when the server was given options) and start the serving loop greenlet.
   * Harmless when already started.
   *
   * @throws bind errors (`EADDRINUSE`, `EACCES`, `ERR_INVALID_IP_ADDRESS`);
   *   `ERR_SERVER_CLOSED` after `stop()`.
   * @example
   * const server = new StreamServer({ port: 0 }, handle);
   * await server.start();
   * console.log(server.address.port);
   */
  async start(): Promise<void> {
    if (this.#closed) {
      throw codedError(
        new Error(`${this.constructor.name} is stopped; create a new one`),
        'ERR_SERVER_CLOSED',
      );
    }
    if (this.#started) return;
    this._open();
    this.#started = true;
    // Its running handlers (connections, for a StreamServer) in core's hubMetrics().gauges.
    this.#unregister = registerMetric(
      `${this.constructor.name}:${this.#describe()} handlers`,
      () => this.#handlers.size,
    );
    const loop = spawn(() => this.#serve());
    loop.name = `${this.constructor.name}:${this.#describe()}`;
    this.#loop = loop;
  }

  /**
   * Start (if needed) and wait until the server is stopped. If the waiting
   * greenlet is killed (or a `Timeout` fires in it), the server is stopped
   * (`stop()` in a greenlet of its own, joined) before the error propagates.
   *
   * @throws what `start()` throws; the error of a kill or `Timeout`.
   * @example
   * const g = spawn(() => server.serveForever());
   * // ... later
   * await g.kill();   // stops the server
   */
  async serveForever(): Promise<void> {
    await this.start();
    try {
      await this.#stopped.wait();
    } finally {
      if (!this.#stopped.isSet()) {
        const stopper = spawn(() => this.stop());
        stopper.name = `stop:${this.#describe()}`;
        await stopper.join();
      }
    }
  }

  /**
   * Stop accepting (the listening socket is closed), wait up to `timeout` ms
   * for the handlers still running, then kill the rest (waiting at most 1 s
   * for them to end). A handler calling `stop()` is neither waited for nor
   * killed. Calling it again waits for the first call to finish.
   *
   * @param timeout ms to wait for handlers before killing them (default 1000).
   * @example
   * await server.stop(5000);
   */
  async stop(timeout = SERVER_STOP_TIMEOUT): Promise<void> {
    if (this.#closed) {
      await this.#stopped.wait();
      return;
    }
    this.#closed = true;
    try {
      this._close();
      const me = getcurrent();
      const loop = this.#loop;
      if (loop && loop !== me) await loop.kill();
      const others = [...this.#handlers].filter((g) => g !== me);
      if (others.length > 0) {
        await joinall(others, { timeout });
        const rest = others.filter((g) => !g.dead);
        if (rest.length > 0) await killall(rest, undefined, { timeout: SERVER_STOP_TIMEOUT });
      }
    } finally {
      this.#unregister?.();
      this.#stopped.set();
    }
  }

  /** `await using`: same as `stop()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #describe(): string {
    try {
      return formatAddress(this.address);
    } catch {
      return 'unbound';
    }
  }

  async #serve(): Promise<void> {
    try {
      await this.#acceptLoop();
    } catch (err) {
      // The loop greenlet was killed by someone else than stop(): the server stops too.
      if (!this.#closed) this.#stopInBackground();
      throw err;
    }
  }

  #stopInBackground(): void {
    const stopper = spawn(() => this.stop());
    stopper.name = `stop:${this.#describe()}`;
  }

  async #acceptLoop(): Promise<void> {
    const spawner = this.#spawner;
    let delay = SERVER_MIN_DELAY;
    let inARow = 0;
    while (!this.#closed) {
      if (spawner instanceof Pool && spawner.full()) {
        inARow = 0;
        await spawner.waitAvailable();
        continue;
      }
      if (inARow >= this.#maxAccept) {
        inARow = 0;
        await sleep(0);
        continue;
      }
      let job: ServerJob;
      try {
        job = this._nextNow() ?? (await this._next());
      } catch (err) {
        if (this.#closed) return;
        if (err instanceof GreenletExit || getcurrent().signal.aborted) throw err; // killed
        const code = errorCode(err);
        // Closed under us (a Listener given to us and closed by its owner): stop quietly.
        if (code !== 'ERR_SOCKET_CLOSED')
          reportError(err, `${this.#loop?.name ?? this.constructor.name} accept`);
        if (code !== undefined && (code === 'ERR_SOCKET_CLOSED' || FATAL_ACCEPT_ERRORS.has(code))) {
          this.#stopInBackground();
          return;
        }
        inARow = 0;
        await sleep(delay);
        delay = Math.min(delay * 2, SERVER_MAX_DELAY);
        continue;
      }
      delay = SERVER_MIN_DELAY;
      inARow++;
      const launching = this.#launch(job);
      if (launching !== undefined) await launching;
    }
  }

  /** Spawn `job`'s handler: at once into a Group; a Promise only when a Pool may make it wait. */
  #launch(job: ServerJob): Promise<void> | undefined {
    // Both closures share this call's context: one per handler, not two.
    const run = (): unknown => job.run();
    const release = (): void => job.discard();
    const spawner = this.#spawner;
    if (spawner instanceof Pool) {
      // Free slot (checked above): no wait. A Pool shared with others may have filled meanwhile.
      return spawner.spawn(run).then(
        (g) => this.#adopt(g, job, release),
        (err: unknown) => {
          job.discard();
          throw err;
        },
      );
    }
    let g: Greenlet<unknown>;
    try {
      g = spawner.spawn(run);
    } catch (err) {
      job.discard();
      throw err;
    }
    this.#adopt(g, job, release);
    return undefined;
  }

  /** Name a just-spawned handler (it has not run yet), track it, and release its arrival once it ends. */
  #adopt(g: Greenlet<unknown>, job: ServerJob, release: () => void): void {
    g._nameFrom(job);
    if (this.#handlers !== this.#spawner) this.#handlers.add(g);
    g.rawlink(release);
  }
}
