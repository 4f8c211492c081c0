import type { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import type { REPLEval, REPLServer } from 'node:repl';
import {
  codedError,
  formatRunInfo,
  type Greenlet,
  GreenletExit,
  getcurrent,
  getHub,
  hubMetrics,
  killall,
  reportError,
  type SocketAddress,
  sleep,
  spawn,
} from '@greenhub/core';
import { Listener, type SocketListenOptions } from './listener.js';
import type { Socket } from './socket.js';
import { StreamServer, type StreamServerOptions } from './stream-server.js';

/** The prompt of a backdoor session (gevent's, Python's). */
export const BACKDOOR_PROMPT = '>>> ';

/** Options of {@link BackdoorServer}: those of {@link StreamServer} plus what each session shows. */
export type BackdoorServerOptions = StreamServerOptions & {
  /** Names put into each session's context (after the built-in helpers, so they may replace them). */
  locals?: Record<string, unknown>;
  /** First line(s) sent to each client; default names greenhub, the hub in use and the Node version. */
  banner?: string;
  /**
   * Allow listening on a host that is not loopback (anything but `127.0.0.0/8`,
   * `::1`, `localhost` or a unix path). The backdoor has **no authentication**:
   * whoever reaches the port runs code in your process. Default false.
   */
  allowRemote?: boolean;
};

/** True for loopback hosts: `127.0.0.0/8`, `::1`, `localhost` and IPv4-mapped loopback. */
function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  const v4 = host.startsWith('::ffff:') ? host.slice(7) : host;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

function checkLoopback(listen: SocketListenOptions | Listener, allowRemote: boolean): void {
  if (allowRemote) return;
  let host: string;
  if (listen instanceof Listener) {
    const address = listen.address;
    if (address.family === 'unix') return;
    host = address.address;
  } else {
    if ('path' in listen) return;
    host = listen.host ?? '127.0.0.1';
  }
  if (!isLoopback(host)) {
    throw codedError(
      new Error(
        `BackdoorServer refuses to listen on non-loopback host ${host}: it has no authentication; pass allowRemote: true to do it anyway`,
      ),
      'ERR_BACKDOOR_NOT_LOOPBACK',
    );
  }
}

/** The default banner: greenhub, the hub in use and the Node version. */
function defaultBanner(): string {
  return `greenhub backdoor on hub ${getHub().name}, Node.js ${process.version}\n(type .exit or close the connection to leave; .help for commands)`;
}

/**
 * gevent's `BackdoorServer`: a {@link StreamServer} giving each connection an
 * interactive JavaScript REPL (`node:repl`) running inside the process — for
 * looking at a live server (`formatRunInfo()`, `hubMetrics()`), poking at its
 * objects (`locals`) and spawning greenlets.
 *
 * Each session runs in its handler greenlet, over `socket.toNodeStream()`,
 * with its own context (`useGlobal: false`) holding `formatRunInfo`,
 * `hubMetrics`, `getcurrent`, `spawn` and `sleep` from `@greenhub/core`, then
 * `locals`. Each input is evaluated in a greenlet of its own (named
 * `backdoor-eval:<peer>`, so `getcurrent()` there is that greenlet), and top-level
 * `await` works: `await sleep(10)`. `.exit` or the client closing ends the
 * session and closes the socket; `stop()` ends every session (killing a
 * running evaluation).
 *
 * **No authentication.** It listens on `127.0.0.1` (any port) by default and
 * refuses a non-loopback host unless `allowRemote: true` is passed: anyone who
 * can connect runs arbitrary code in the process.
 *
 * @example
 * const backdoor = new BackdoorServer({ port: 9999 }, { locals: { app } });
 * await backdoor.start();          // then: nc 127.0.0.1 9999
 * // ...
 * await backdoor.stop();
 */
export class BackdoorServer extends StreamServer {
  /**
   * @param listen where to listen — `listen()` options (default `{ host: '127.0.0.1', port: 0 }`)
   *   or a bound `Listener`. Must be loopback or a unix path unless `opts.allowRemote`.
   * @param opts `locals`, `banner`, `allowRemote`, and the {@link StreamServer} options (`spawn`, `maxAccept`, `tls`).
   * @throws `ERR_BACKDOOR_NOT_LOOPBACK` for a non-loopback host without `allowRemote`; what {@link StreamServer} throws.
   */
  constructor(
    listen: SocketListenOptions | Listener = { host: '127.0.0.1', port: 0 },
    opts: BackdoorServerOptions = {},
  ) {
    const { locals, banner, allowRemote = false, ...serverOptions } = opts;
    checkLoopback(listen, allowRemote);
    super(listen, (socket, address) => runSession(socket, address, locals ?? {}, banner), serverOptions);
  }
}

/** How an evaluation ended through the REPL's callback (undefined: reported by the REPL's domain, or killed). */
type Outcome = { err: Error | null; result: unknown } | undefined;

/** Run one REPL session over `socket` until `.exit`, the client's end, or a kill of the calling greenlet. */
async function runSession(
  socket: Socket,
  address: SocketAddress,
  locals: Record<string, unknown>,
  banner: string | undefined,
): Promise<void> {
  const signal = getcurrent().signal;
  // Loaded on first use: node:repl loads node:domain, which every importer of @greenhub/net need not pay for.
  const { start: startRepl } = await import('node:repl');
  await socket.write(`${banner ?? defaultBanner()}\n`);
  const stream = socket.toNodeStream();
  const peer = address.family === 'unix' ? 'unix' : `${address.address}:${address.port}`;
  const evaluations = new Set<Greenlet<unknown>>();
  let repl: REPLServer | undefined;
  // Errors after the REPL ended (a write to the closed socket) are of no interest.
  stream.on('error', () => {});
  try {
    repl = startRepl({
      input: stream,
      output: stream,
      prompt: BACKDOOR_PROMPT,
      terminal: false,
      useColors: false,
      useGlobal: false,
      preview: false,
    });
    const server = repl;
    const fill = (context: Record<string, unknown>): void => {
      Object.assign(context, { formatRunInfo, hubMetrics, getcurrent, spawn, sleep }, locals);
    };
    fill(server.context);
    server.on('reset', fill);
    // The REPL reports an evaluation that throws through its domain (printing it and the next
    // prompt) instead of the callback: listen there too, to know the evaluation is over.
    const domain = (server as unknown as { _domain?: EventEmitter })._domain;
    const defaultEval: REPLEval = server.eval;
    // Each input runs in a greenlet of its own: greenhub waits (sleep, reads) then belong to it,
    // and ending the session kills it.
    const greenletEval: REPLEval = (code, context, file, cb) => {
      const g = spawn(
        () =>
          new Promise<Outcome>((resolve, reject) => {
            const signal = getcurrent().signal;
            const onAbort = (): void => {
              done();
              reject(signal.reason);
            };
            const onDomainError = (): void => {
              done();
              resolve(undefined);
            };
            const done = (): void => {
              signal.removeEventListener('abort', onAbort);
              domain?.removeListener('error', onDomainError);
            };
            signal.addEventListener('abort', onAbort, { once: true });
            domain?.on('error', onDomainError);
            defaultEval.call(server, code, context, file, (err, result) => {
              done();
              resolve({ err, result });
            });
          }),
      );
      g.name = `backdoor-eval:${peer}`;
      evaluations.add(g);
      g.rawlink(() => {
        evaluations.delete(g);
        const outcome =
          g.successful() && !(g.value instanceof GreenletExit) ? (g.value as Outcome) : undefined;
        if (outcome) cb(outcome.err, outcome.result);
        else if (!g.successful())
          cb(g.exception instanceof Error ? g.exception : new Error(String(g.exception)), undefined);
      });
    };
    (server as { eval: REPLEval }).eval = greenletEval;
    await new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      server.once('exit', () => resolve());
      // readline re-emits the stream's errors (a write to a closed socket): the session is over.
      server.on('error', () => resolve());
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  } finally {
    repl?.close();
    stream.destroy();
    socket.close();
    // A running evaluation (`await sleep(60_000)`) ends with its session.
    if (evaluations.size > 0) {
      await killall([...evaluations], undefined, { timeout: 1000 }).catch((err: unknown) => {
        reportError(err, `backdoor session ${peer}`);
      });
    }
  }
}
