import { isIP } from 'node:net';
import type { Datagram, SocketAddress, WaitOptions } from '@greenhub/core';
import { getHub, Waiter } from '@greenhub/core';
import { socketClosedError } from './errors.js';
import { resolve } from './resolve.js';

/** How many received datagrams a {@link DatagramSocket} keeps while nobody is in `recvFrom()`; past it the oldest is dropped. */
export const UDP_RECV_BUFFER = 1024;

/** Where {@link udp} binds. */
export interface UdpSocketOptions {
  /** Numeric IP address to bind (default `'127.0.0.1'`); its family picks IPv4 or IPv6. */
  host?: string;
  /** Port to bind (default 0: any free port). */
  port?: number;
}

/** One received datagram: its bytes and who sent it. */
export interface ReceivedDatagram {
  /** The payload. */
  data: Uint8Array;
  /** The sender's address. */
  address: SocketAddress;
}

function badPort(port: unknown): RangeError & { code: string } {
  return Object.assign(new RangeError(`port must be an integer from 1 to 65535, got ${String(port)}`), {
    code: 'ERR_SOCKET_BAD_PORT',
  });
}

/**
 * A bound UDP socket for greenlets: `sendTo()` and `recvFrom()` wait
 * cooperatively (interrupted by `kill()`, `Timeout` and `signal`).
 *
 * It receives from the moment it is bound: datagrams that arrive while no
 * greenlet is in `recvFrom()` are kept, up to {@link UDP_RECV_BUFFER} (the
 * oldest is dropped past that, counted in `dropped`). Greenlets blocked in
 * `recvFrom()` are served first come, first served. Like a bound Node dgram
 * socket, an open DatagramSocket keeps the process alive: close it.
 *
 * @example
 * using sock = udp({ port: 0 });
 * await sock.sendTo('ping', peerPort);
 * const { data, address } = await sock.recvFrom({ timeout: 1000 });
 */
export class DatagramSocket implements Disposable {
  readonly #dgram: Datagram;
  readonly #address: SocketAddress;
  readonly #queue: ReceivedDatagram[] = [];
  readonly #receivers: Waiter<ReceivedDatagram>[] = [];
  #dropped = 0;
  #closed = false;

  /** @internal Use {@link udp}. */
  constructor(dgram: Datagram) {
    this.#dgram = dgram;
    this.#address = { ...dgram.address };
    dgram.recvStart((data, from) => this.#onMessage({ data, address: { ...from } }));
  }

  /** The local address this socket is bound to. */
  get address(): SocketAddress {
    return { ...this.#address };
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.#closed;
  }

  /** How many datagrams were dropped because the receive buffer was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** @internal For DatagramServer: a buffered datagram nobody waits for, without a promise; else undefined. */
  _takeBuffered(): ReceivedDatagram | undefined {
    return this.#receivers.length === 0 ? this.#queue.shift() : undefined;
  }

  #onMessage(msg: ReceivedDatagram): void {
    while (this.#receivers.length > 0) {
      const receiver = this.#receivers.shift()!;
      if (receiver.switch(msg)) return;
    }
    if (this.#queue.length >= UDP_RECV_BUFFER) {
      this.#queue.shift();
      this.#dropped++;
    }
    this.#queue.push(msg);
  }

  /**
   * Send one datagram, resolving once the hub has sent it.
   *
   * @param data The payload (a string is sent as UTF-8).
   * @param port The destination port.
   * @param host The destination: a numeric address or a name, resolved first
   *   through the configured resolver in this socket's family (default loopback:
   *   `'127.0.0.1'`, or `'::1'` for a socket bound to an IPv6 address).
   * @param opts `timeout` and `signal` for the whole call, resolution included.
   * @returns a promise that resolves when the datagram was sent.
   * @throws `ERR_SOCKET_CLOSED` if the socket is or gets closed; `ERR_SOCKET_BAD_PORT`;
   *   resolution errors (`ENOTFOUND`); the hub's send errors; `Timeout`; `signal.reason`.
   * @example await sock.sendTo(new Uint8Array([1, 2, 3]), 9999, 'localhost');
   */
  async sendTo(data: Uint8Array | string, port: number, host?: string, opts?: WaitOptions): Promise<void> {
    if (this.#closed) throw socketClosedError('sendTo');
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw badPort(port);
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const family = this.#address.family === 'IPv6' ? 'IPv6' : 'IPv4';
    let address = host ?? (family === 'IPv6' ? '::1' : '127.0.0.1');
    if (isIP(address) === 0) {
      const deadline = opts?.timeout === undefined ? undefined : Date.now() + opts.timeout;
      const [first] = await resolve(address, {
        family: family === 'IPv6' ? 6 : 4,
        timeout: opts?.timeout,
        signal: opts?.signal,
      });
      address = first!.address;
      if (deadline !== undefined) opts = { ...opts, timeout: Math.max(0, deadline - Date.now()) };
      if (this.#closed) throw socketClosedError('sendTo');
    }
    const waiter = new Waiter<void>('udp send');
    this.#dgram.send(bytes, { address, port, family: isIP(address) === 6 ? 'IPv6' : 'IPv4' }, (err) => {
      if (err === null) waiter.switch();
      else if ((err as { code?: string }).code === 'ECANCELED' && this.#closed) {
        waiter.throw(socketClosedError('sendTo'));
      } else waiter.throw(err);
    });
    await waiter.get(opts);
  }

  /**
   * Receive the next datagram, waiting for one if none is buffered.
   *
   * @param opts `timeout` (rejects with `Timeout`) and `signal`.
   * @returns the payload and the sender's address.
   * @throws `ERR_SOCKET_CLOSED` if the socket is closed, also while waiting;
   *   `Timeout`; `signal.reason`; the error of a `kill()`.
   * @example const { data, address } = await sock.recvFrom({ timeout: 500 });
   */
  async recvFrom(opts?: WaitOptions): Promise<{ data: Uint8Array; address: SocketAddress }> {
    if (this.#closed) throw socketClosedError('recvFrom');
    if (this.#queue.length > 0 && this.#receivers.length === 0) {
      if (opts?.signal?.aborted) throw opts.signal.reason;
      return this.#queue.shift()!;
    }
    const waiter = new Waiter<ReceivedDatagram>('udp recv');
    this.#receivers.push(waiter);
    try {
      return await waiter.get(opts);
    } finally {
      const i = this.#receivers.indexOf(waiter);
      if (i >= 0) this.#receivers.splice(i, 1);
    }
  }

  /**
   * Close the socket: buffered datagrams are discarded, greenlets blocked in
   * `recvFrom()` or `sendTo()` fail with `ERR_SOCKET_CLOSED`. Idempotent.
   *
   * @example sock.close();
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    this.#dgram.close();
    const receivers = this.#receivers.splice(0);
    for (const r of receivers) r.throw(socketClosedError('recvFrom'));
  }

  /** Same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Bind a UDP socket on the current hub, synchronously.
 *
 * @param opts `host` (numeric, default `'127.0.0.1'`) and `port` (default 0: any).
 * @returns the bound {@link DatagramSocket}; its `address` is known at once.
 * @throws `ERR_INVALID_IP_ADDRESS` for a non-numeric host; `EADDRINUSE`, `EACCES`... from the bind.
 * @example
 * using server = udp({ port: 5353 });
 * const { data, address } = await server.recvFrom();
 * await server.sendTo(data, address.port, address.address);
 */
export function udp(opts: UdpSocketOptions = {}): DatagramSocket {
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw badPort(port);
  return new DatagramSocket(getHub().udp({ host: opts.host ?? '127.0.0.1', port }));
}
