import type { RemoteInfo, Socket as UdpSocket } from 'node:dgram';
import { isIP } from 'node:net';
import type { Datagram, SocketAddress } from '@greenhub/core';
import { hubClosedError, invalidAddressError } from '@greenhub/core';
import { Requests } from './internal/requests.js';
import type { Owned, Runtime } from './internal/runtime.js';
import { formatAddress, ipAddress } from './internal/socket-address.js';

type OnMessage = (data: Uint8Array, from: SocketAddress) => void;

/** Datagrams kept while not receiving; like a full kernel buffer, later ones are dropped. */
const MAX_WAITING = 1024;

/**
 * A bound UDP socket over `node:dgram`.
 *
 * `dgram` has no way to stop receiving, so datagrams that arrive between
 * `recvStop()` and the next `recvStart()` wait here (up to {@link MAX_WAITING})
 * and are delivered in order from a later turn. The socket is
 * Node-referenced only while receiving or sending, and referenced.
 */
export class UdpDatagram implements Datagram, Owned {
  readonly #socket: UdpSocket;
  readonly #requests: Requests;
  readonly #waiting: Array<[Buffer, RemoteInfo]> = [];
  #onMessage: OnMessage | null = null;
  #closed = false;
  #referenced = true;
  #nodeReferenced = true;
  #flushScheduled = false;

  constructor(
    private readonly rt: Runtime,
    socket: UdpSocket,
    readonly address: SocketAddress,
  ) {
    this.#socket = socket;
    this.#requests = new Requests(rt, this);
    socket.on('message', (data: Buffer, from: RemoteInfo) => this.#onDatagram(data, from));
    socket.on('error', (err: Error) => {
      if (!this.#closed) this.rt.report(err, `${this}`);
    });
    rt.owned.add(this);
    this.#syncRef();
  }

  get active(): boolean {
    return !this.#closed && (this.#onMessage !== null || this.#requests.size > 0);
  }

  get keepsAlive(): boolean {
    return this.#referenced && this.active;
  }

  get holdsSocket(): boolean {
    return !this.#closed;
  }

  recvStart(onMessage: OnMessage): void {
    if (this.#closed) throw hubClosedError(`${this}`);
    this.rt.assertOpen();
    this.#onMessage = onMessage;
    this.#syncRef();
    if (this.#waiting.length > 0 && !this.#flushScheduled) {
      this.#flushScheduled = true;
      this.rt.callbacks.push(() => this.#flush(), false);
    }
  }

  recvStop(): void {
    this.#onMessage = null;
    this.#syncRef();
  }

  send(data: Uint8Array, to: SocketAddress, cb?: (err: Error | null) => void): void {
    if (this.#closed) throw hubClosedError(`${this}`);
    this.rt.assertOpen();
    if (isIP(to.address) === 0) {
      this.rt.complete(cb, invalidAddressError(to.address), this, 'send');
      return;
    }
    const req = this.#requests.open('send', cb);
    try {
      // Copied: Node holds the buffer until the kernel takes it, the caller may reuse it at once.
      this.#socket.send(Buffer.from(data), to.port, to.address, (err) => {
        if (this.#requests.finish(req, err ?? null)) this.#syncRef();
      });
    } catch (err) {
      this.#requests.abandon(req);
      throw err;
    }
    this.#syncRef();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onMessage = null;
    this.#waiting.length = 0;
    this.#requests.failAll();
    this.#socket.close();
    this.rt.owned.delete(this);
  }

  closeByHub(): void {
    this.close();
  }

  ref(): void {
    this.#referenced = true;
    this.#syncRef();
  }

  unref(): void {
    this.#referenced = false;
    this.#syncRef();
  }

  toString(): string {
    return `udp(${formatAddress(this.address)})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  #onDatagram(data: Buffer, from: RemoteInfo): void {
    if (this.#closed) return;
    const onMessage = this.#onMessage;
    if (onMessage === null || this.#waiting.length > 0) {
      if (this.#waiting.length < MAX_WAITING) this.#waiting.push([data, from]);
      return;
    }
    this.rt.enter();
    this.rt.call(onMessage, this, 'onMessage', data, ipAddress(from.address, from.port));
  }

  #flush(): void {
    this.#flushScheduled = false;
    while (!this.#closed) {
      const onMessage = this.#onMessage;
      if (onMessage === null) return;
      const next = this.#waiting.shift();
      if (next === undefined) return;
      this.rt.call(onMessage, this, 'onMessage', next[0], ipAddress(next[1].address, next[1].port));
    }
  }

  #syncRef(): void {
    const want = this.keepsAlive;
    if (want === this.#nodeReferenced) return;
    this.#nodeReferenced = want;
    if (want) this.#socket.ref();
    else this.#socket.unref();
  }
}
