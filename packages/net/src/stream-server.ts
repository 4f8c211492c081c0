import { codedError, type SocketAddress } from '@greenhub/core';
import { BaseServer, type ServerJob, type ServerOptions } from './base-server.js';
import { formatAddress } from './internal/server-spawn.js';
import { Listener, listen, type SocketListenOptions } from './listener.js';
import type { Socket } from './socket.js';
import { acceptTls, type TlsOptions } from './tls.js';

/** Options of {@link StreamServer}: see {@link ServerOptions}; `tls` makes each connection do a TLS handshake (in its handler greenlet) first. */
export type StreamServerOptions = ServerOptions & { tls?: TlsOptions & { handshakeTimeout?: number } };

/** What a {@link StreamServer} runs per connection, in a greenlet of its own; the socket is closed when it returns or throws. */
export type StreamHandler = (socket: Socket, address: SocketAddress) => unknown;

type TlsSettings = NonNullable<StreamServerOptions['tls']>;

/**
 * One accepted connection, waiting for or in its handler greenlet: an object
 * with the socket and the handler, its methods on the prototype (every idle
 * connection keeps one) and its name made only when asked for.
 */
class Connection implements ServerJob {
  constructor(
    protected readonly socket: Socket,
    protected readonly handler: StreamHandler,
  ) {}

  get name(): string {
    return `handler:${formatAddress(this.socket.remoteAddress)}`;
  }

  /** Plain TCP: the handler is all the greenlet runs; discard() closes the socket when it ends. */
  run(): unknown {
    return this.handler(this.socket, this.socket.remoteAddress);
  }

  discard(): void {
    this.socket.close();
  }
}

/** A connection that does a TLS handshake in its handler greenlet first. */
class TlsConnection extends Connection {
  constructor(
    socket: Socket,
    handler: StreamHandler,
    private readonly tls: TlsSettings,
  ) {
    super(socket, handler);
  }

  override async run(): Promise<unknown> {
    const { handshakeTimeout = 10_000, ...settings } = this.tls;
    let conversation = this.socket;
    try {
      conversation = await acceptTls(this.socket, { ...settings, timeout: handshakeTimeout });
      return await this.handler(conversation, this.socket.remoteAddress);
    } finally {
      conversation.close();
      this.socket.close();
    }
  }
}

/**
 * A TCP (or unix-socket) server, gevent's `StreamServer`: one handler
 * greenlet per connection, named `handler:<peer address>#<id>`, spawned
 * through the `spawn` Pool or Group; the socket is closed when the handler
 * returns or throws. See {@link BaseServer} for accepting, back-off and `stop()`.
 *
 * @example
 * const server = new StreamServer({ port: 0 }, async (sock) => {
 *   for (let line; (line = await sock.readLine()) !== null; ) await sock.write(`${line}\n`);
 * }, { spawn: 1000 });
 * await server.start();
 * // ...
 * await server.stop();
 */
export class StreamServer extends BaseServer {
  readonly #options: SocketListenOptions | undefined;
  readonly #handler: StreamHandler;
  readonly #tls: StreamServerOptions['tls'];
  #listener: Listener | undefined;

  /**
   * @param listen where to listen — options for `listen()`, bound by `start()`
   *   — or a `Listener` already bound (it is closed by `stop()`).
   * @param handler called with each accepted socket and the peer's address.
   * @param opts `spawn` (Pool, Group or pool size; default a Group), `maxAccept` (default 100), and
   *   `tls` (certificate and key; a handshake that fails or exceeds `handshakeTimeout`, default 10 s,
   *   is reported like a handler error).
   * @throws `ERR_INVALID_ARG_TYPE` if `handler` is not a function; `ERR_OUT_OF_RANGE` for a bad `maxAccept`.
   */
  constructor(listen: SocketListenOptions | Listener, handler: StreamHandler, opts?: StreamServerOptions) {
    super(opts);
    if (typeof handler !== 'function') {
      throw codedError(
        new TypeError(`StreamServer needs a handler function, got ${typeof handler}`),
        'ERR_INVALID_ARG_TYPE',
      );
    }
    this.#handler = handler;
    this.#tls = opts?.tls;
    if (listen instanceof Listener) this.#listener = listen;
    else this.#options = listen;
  }

  /**
   * The listening address.
   * @throws `ERR_SERVER_NOT_STARTED` for a server given options that `start()` has not bound yet.
   */
  get address(): SocketAddress {
    if (!this.#listener) {
      throw codedError(
        new Error('the server is not bound yet: call start() first'),
        'ERR_SERVER_NOT_STARTED',
      );
    }
    return this.#listener.address;
  }

  /** The listener, once bound (undefined before `start()` for a server given options). */
  get listener(): Listener | undefined {
    return this.#listener;
  }

  /** @internal Bind when given options. */
  protected _open(): void {
    if (!this.#listener) this.#listener = listen(this.#options);
  }

  /** @internal Accept the next connection. */
  protected async _next(): Promise<ServerJob> {
    const socket = await this.#listener!.accept();
    const tls = this.#tls;
    return tls ? new TlsConnection(socket, this.#handler, tls) : new Connection(socket, this.#handler);
  }

  /** @internal Close the listener. */
  protected _close(): void {
    this.#listener?.close();
  }
}
