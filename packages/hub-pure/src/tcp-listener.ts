import type { Server, Socket } from 'node:net';
import type { Listener, SocketAddress, Stream } from '@greenhub/core';
import { hubClosedError, systemError } from '@greenhub/core';
import { tookLastDescriptor } from './internal/descriptor-limit.js';
import type { Owned, Runtime } from './internal/runtime.js';
import { formatAddress } from './internal/socket-address.js';
import { TcpStream } from './tcp-stream.js';

function ignore(): void {}

/**
 * A listening TCP or unix socket over a `net.Server` (created with
 * `pauseOnConnect` and `allowHalfOpen`, so accepted streams start not reading).
 *
 * Node accepts every connection as soon as it is ready and offers no way to
 * pause that, so while the listener is stopped accepted connections wait in a
 * queue here (up to the backlog; later ones are reset, as a full kernel
 * backlog would refuse them) and are handed over, in order, after `start()`.
 *
 * Accept errors reach `onError` as Node emits them on the server. libuv keeps
 * EMFILE to itself (it drops the waiting connections to stay responsive), so
 * the listener also reports EMFILE when an accepted socket took the last
 * descriptor the process may open — see {@link tookLastDescriptor}.
 */
export class TcpListener implements Listener, Owned {
  readonly #server: Server;
  readonly #backlog: number;
  readonly #waiting: Socket[] = [];
  #onConnection: ((stream: Stream) => void) | null = null;
  #onError: ((err: Error) => void) | null = null;
  #closed = false;
  #referenced = true;
  #nodeReferenced = true;
  #flushScheduled = false;
  #outOfDescriptors = false;

  constructor(
    private readonly rt: Runtime,
    server: Server,
    readonly address: SocketAddress,
    backlog: number,
  ) {
    this.#server = server;
    this.#backlog = backlog;
    server.on('connection', (socket: Socket) => this.#onSocket(socket));
    server.on('error', (err: Error) => this.#onServerError(err));
    rt.owned.add(this);
    this.#syncRef();
  }

  get active(): boolean {
    return this.#onConnection !== null;
  }

  get keepsAlive(): boolean {
    return this.#referenced && this.active;
  }

  get holdsSocket(): boolean {
    return !this.#closed;
  }

  start(onConnection: (stream: Stream) => void, onError: (err: Error) => void): void {
    if (this.#closed) throw hubClosedError(`${this}`);
    this.rt.assertOpen();
    this.#onConnection = onConnection;
    this.#onError = onError;
    this.#syncRef();
    if (this.#waiting.length > 0 && !this.#flushScheduled) {
      // Hand over what queued while stopped from a later turn, never inside start().
      this.#flushScheduled = true;
      this.rt.callbacks.push(() => this.#flush(), false);
    }
  }

  stop(): void {
    this.#onConnection = null;
    this.#onError = null;
    this.#syncRef();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.stop();
    for (const socket of this.#waiting.splice(0)) socket.destroy();
    this.#server.close();
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
    const kind = this.address.family === 'unix' ? 'unix-listener' : 'tcp-listener';
    return `${kind}(${formatAddress(this.address)})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  #onSocket(socket: Socket): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    const full = tookLastDescriptor(socket);
    if (this.#onConnection === null || this.#waiting.length > 0) {
      if (this.#waiting.length >= this.#backlog) {
        socket.resetAndDestroy();
      } else {
        // Not reading, so nothing should fail; but an unhandled 'error' would crash the process.
        socket.on('error', ignore);
        this.#waiting.push(socket);
      }
      this.#noteDescriptors(full);
      return;
    }
    this.rt.enter();
    this.#handOver(socket);
    this.#noteDescriptors(full);
  }

  /** Report EMFILE once each time the descriptor table fills up (see {@link tookLastDescriptor}). */
  #noteDescriptors(full: boolean): void {
    if (full && !this.#outOfDescriptors && !this.#closed)
      this.#onServerError(systemError('EMFILE', 'accept'));
    this.#outOfDescriptors = full;
  }

  #flush(): void {
    this.#flushScheduled = false;
    while (this.#onConnection !== null && !this.#closed) {
      const socket = this.#waiting.shift();
      if (socket === undefined) return;
      this.#handOver(socket);
    }
  }

  #handOver(socket: Socket): void {
    const onConnection = this.#onConnection;
    if (onConnection === null) return;
    socket.off('error', ignore);
    const unix = this.address.family === 'unix' ? { local: this.address.address, remote: '' } : null;
    const stream = new TcpStream(this.rt, socket, unix);
    this.rt.call(onConnection, this, 'onConnection', stream);
  }

  #onServerError(err: Error): void {
    if (this.#closed) return;
    this.rt.enter();
    const onError = this.#onError;
    if (onError === null) this.rt.report(err, `${this}`);
    else this.rt.call(onError, this, 'onError', err);
  }

  #syncRef(): void {
    const want = this.keepsAlive;
    if (want === this.#nodeReferenced) return;
    this.#nodeReferenced = want;
    if (want) this.#server.ref();
    else this.#server.unref();
  }
}
