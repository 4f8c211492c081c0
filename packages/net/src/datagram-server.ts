import { codedError, type SocketAddress } from '@greenhub/core';
import { BaseServer, type ServerJob, type ServerOptions } from './base-server.js';
import { formatAddress } from './internal/server-spawn.js';
import { DatagramSocket, type UdpSocketOptions, udp } from './udp.js';

/** Options of {@link DatagramServer}: see {@link ServerOptions} (`maxAccept` counts datagrams). */
export type DatagramServerOptions = ServerOptions;

/** What a {@link DatagramServer} runs per datagram, in a greenlet of its own. */
export type DatagramHandler = (data: Uint8Array, address: SocketAddress, server: DatagramServer) => unknown;

/**
 * A UDP server, gevent's `DatagramServer`: one handler greenlet per datagram,
 * named `handler:<sender address>#<id>`, spawned through the `spawn` Pool or
 * Group; reply with `server.sendTo()`. While a spawn Pool is full the server
 * stops receiving and datagrams wait in the socket's buffer (see
 * `UDP_RECV_BUFFER`). See {@link BaseServer} for the rest.
 *
 * @example
 * const server = new DatagramServer({ port: 0 }, (data, from, srv) => srv.sendTo(data, from.port, from.address));
 * await server.start();
 */
export class DatagramServer extends BaseServer {
  readonly #options: UdpSocketOptions | undefined;
  readonly #handler: DatagramHandler;
  #socket: DatagramSocket | undefined;

  /**
   * @param listen where to bind — options for `udp()`, bound by `start()` — or
   *   a bound `DatagramSocket` (it is closed by `stop()`).
   * @param handler called with each datagram, its sender and the server.
   * @param opts `spawn` (Pool, Group or pool size; default a Group) and `maxAccept` (default 100).
   * @throws `ERR_INVALID_ARG_TYPE` if `handler` is not a function; `ERR_OUT_OF_RANGE` for a bad `maxAccept`.
   */
  constructor(
    listen: UdpSocketOptions | DatagramSocket,
    handler: DatagramHandler,
    opts?: DatagramServerOptions,
  ) {
    super(opts);
    if (typeof handler !== 'function') {
      throw codedError(
        new TypeError(`DatagramServer needs a handler function, got ${typeof handler}`),
        'ERR_INVALID_ARG_TYPE',
      );
    }
    this.#handler = handler;
    if (listen instanceof DatagramSocket) this.#socket = listen;
    else this.#options = listen;
  }

  /**
   * The bound address.
   * @throws `ERR_SERVER_NOT_STARTED` for a server given options that `start()` has not bound yet.
   */
  get address(): SocketAddress {
    if (!this.#socket) {
      throw codedError(
        new Error('the server is not bound yet: call start() first'),
        'ERR_SERVER_NOT_STARTED',
      );
    }
    return this.#socket.address;
  }

  /** The datagram socket, once bound. */
  get socket(): DatagramSocket | undefined {
    return this.#socket;
  }

  /**
   * Send a datagram from the server's socket (e.g. a reply to a handler's `address`).
   *
   * @param data the payload (a string is sent as UTF-8).
   * @param port destination port.
   * @param host destination host (default loopback).
   * @throws `ERR_SERVER_NOT_STARTED` before `start()`; what `DatagramSocket.sendTo()` throws.
   * @example
   * await server.sendTo(data, from.port, from.address);
   */
  async sendTo(data: Uint8Array | string, port: number, host?: string): Promise<void> {
    if (!this.#socket) {
      throw codedError(
        new Error('the server is not bound yet: call start() first'),
        'ERR_SERVER_NOT_STARTED',
      );
    }
    await this.#socket.sendTo(data, port, host);
  }

  /** @internal Bind when given options. */
  protected _open(): void {
    if (!this.#socket) this.#socket = udp(this.#options);
  }

  /** @internal Receive the next datagram. */
  protected async _next(): Promise<ServerJob> {
    return this.#job(await this.#socket!.recvFrom());
  }

  /** @internal A datagram already received, if any. */
  protected override _nextNow(): ServerJob | undefined {
    const received = this.#socket?._takeBuffered();
    return received === undefined ? undefined : this.#job(received);
  }

  #job({ data, address }: { data: Uint8Array; address: SocketAddress }): ServerJob {
    const handler = this.#handler;
    return {
      name: `handler:${formatAddress(address)}`,
      run: () => handler(data, address, this),
      discard: () => {},
    };
  }

  /** @internal Close the socket. */
  protected _close(): void {
    this.#socket?.close();
  }
}
