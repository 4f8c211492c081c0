import { codedError } from '@greenhub/core';
import type { Listener, SocketListenOptions } from '../listener.js';
import type { Socket } from '../socket.js';
import { StreamServer, type StreamServerOptions } from '../stream-server.js';
import { Connection, type FetchHandler, type HttpSettings } from './connection.js';

/** Options of {@link HttpServer}: those of {@link StreamServer} plus the HTTP limits, timeouts and logging. */
export type HttpServerOptions = StreamServerOptions & {
  /** Largest request head (request line excluded) accepted, in bytes; larger gets 431. Default 16 KiB. */
  maxHeaderBytes?: number;
  /** Largest request body accepted, in bytes; larger gets 413. Default 128 MiB. */
  maxBodyBytes?: number;
  /**
   * Ms a client has to send a complete request head once it started one (or
   * after connecting), and the longest wait for more bytes of a request body;
   * exceeded gets 408 and a close. Default 60 s.
   */
  headersTimeout?: number;
  /** Ms an idle keep-alive connection is kept open waiting for the next request. Default 5 s. */
  keepAliveTimeout?: number;
  /** An access-log line per request, like gevent's pywsgi: `true` writes them to stderr, or give a function. */
  log?: boolean | ((line: string) => void);
};

const DEFAULTS = {
  maxHeaderBytes: 16 * 1024,
  maxBodyBytes: 128 * 1024 * 1024,
  headersTimeout: 60_000,
  keepAliveTimeout: 5_000,
};

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw codedError(
      new RangeError(`${name} must be a number > 0, got ${String(value)}`),
      'ERR_OUT_OF_RANGE',
    );
  }
  return value;
}

function settingsOf(opts: HttpServerOptions | undefined): HttpSettings {
  const log = opts?.log;
  if (log !== undefined && typeof log !== 'boolean' && typeof log !== 'function') {
    throw codedError(new TypeError('log must be a boolean or a function'), 'ERR_INVALID_ARG_TYPE');
  }
  return {
    maxHeaderBytes: positive('maxHeaderBytes', opts?.maxHeaderBytes, DEFAULTS.maxHeaderBytes),
    maxBodyBytes: positive('maxBodyBytes', opts?.maxBodyBytes, DEFAULTS.maxBodyBytes),
    headersTimeout: positive('headersTimeout', opts?.headersTimeout, DEFAULTS.headersTimeout),
    keepAliveTimeout: positive('keepAliveTimeout', opts?.keepAliveTimeout, DEFAULTS.keepAliveTimeout),
    log: log === true ? (line) => process.stderr.write(`${line}\n`) : log === false ? undefined : log,
    scheme: opts?.tls ? 'https' : 'http',
  };
}

/**
 * An HTTP/1.1 server with fetch-style handlers — gevent's pywsgi with the
 * handler shape of Deno.serve, Bun.serve and Hono: each connection is served
 * by a greenlet, each request's handler gets a WHATWG `Request` and returns a
 * `Response` (or a promise of one).
 *
 * - Keep-alive and pipelining (answers in request order), chunked request
 *   bodies, `Expect: 100-continue` answered when the handler first reads the
 *   body, HEAD, HTTP/1.0 clients, a `Date` header.
 * - Strict parsing (RFC 9112): malformed requests get 400, a request-target
 *   over 8 KiB 414, a head over `maxHeaderBytes` 431, a body over
 *   `maxBodyBytes` 413, an unknown transfer-coding 501, and the connection is
 *   closed. A response header with CR, LF or NUL is never written: a 500 goes
 *   out instead.
 * - A handler that throws gets a 500 (the error is reported) and serving goes on.
 * - `request.signal` aborts when the client closes its side or the handler greenlet is killed.
 * - `stop(timeout)` stops accepting, closes idle connections at once, lets
 *   requests in flight finish (their connections close after the response),
 *   then kills what is left after `timeout` ms.
 *
 * @example
 * import { HttpServer, Response } from '@greenhub/net';
 * const server = new HttpServer({ port: 8080 }, (req) => new Response(`hello ${new URL(req.url).pathname}`));
 * await server.serveForever();
 */
export class HttpServer extends StreamServer {
  readonly #connections = new Set<Connection>();

  /**
   * @param listen where to listen (options for `listen()`) or a bound `Listener`.
   * @param fetch the request handler.
   * @param opts see {@link HttpServerOptions}.
   * @throws `ERR_INVALID_ARG_TYPE` if `fetch` is not a function; `ERR_OUT_OF_RANGE` for a bad limit.
   */
  constructor(listen: SocketListenOptions | Listener, fetch: FetchHandler, opts?: HttpServerOptions) {
    if (typeof fetch !== 'function') {
      throw codedError(
        new TypeError(`HttpServer needs a fetch handler function, got ${typeof fetch}`),
        'ERR_INVALID_ARG_TYPE',
      );
    }
    const settings = settingsOf(opts);
    super(listen, (socket) => this!.#serveConnection(socket, fetch, settings), opts);
  }

  /** How many connections are open now. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  async #serveConnection(socket: Socket, fetch: FetchHandler, settings: HttpSettings): Promise<void> {
    socket.setNoDelay(true);
    const conn = new Connection(socket, fetch, settings);
    this.#connections.add(conn);
    try {
      if (this.closed) return;
      await conn.serve();
    } finally {
      this.#connections.delete(conn);
    }
  }

  /** @internal Stop accepting; close idle connections now, the others after their response. */
  protected override _close(): void {
    super._close();
    for (const conn of this.#connections) {
      conn.draining = true;
      conn.closeIfIdle();
    }
  }
}

/** Options of {@link serve}: where to listen, the handler, and every {@link HttpServerOptions}. */
export type ServeOptions = HttpServerOptions & {
  /** TCP port (default 0: any free port; read it from `server.address.port`). */
  port?: number;
  /** Address to bind (default `'127.0.0.1'`; `'0.0.0.0'` or `'::'` for every interface). */
  hostname?: string;
  /** Let other processes listen on the same port (`SO_REUSEPORT`; see `serveOnAllCores`). */
  reusePort?: boolean;
  /** The request handler. */
  fetch: FetchHandler;
};

/**
 * Create and start an {@link HttpServer} in one call, like `Deno.serve` and `Bun.serve`.
 *
 * @returns the started server; `server.address.port` tells the port.
 * @throws bind errors (`EADDRINUSE`...); what the HttpServer constructor throws.
 * @example
 * const server = await serve({ port: 8080, fetch: () => new Response('Hello, world!') });
 * await server.serveForever();
 */
export async function serve(opts: ServeOptions): Promise<HttpServer> {
  const { port = 0, hostname = '127.0.0.1', reusePort, fetch, ...rest } = opts ?? ({} as ServeOptions);
  const server = new HttpServer({ host: hostname, port, reusePort }, fetch, rest);
  await server.start();
  return server;
}
