import { isIP, Socket } from 'node:net';
import type { ConnectOptions, Handle, Stream } from '@greenhub/core';
import { canceledError, invalidAddressError } from '@greenhub/core';
import type { Owned, Runtime } from './internal/runtime.js';
import { formatAddress, ipFamily } from './internal/socket-address.js';
import { TcpStream } from './tcp-stream.js';

type ConnectCallback = (err: Error | null, stream?: Stream) => void;

/**
 * A pending connect: a paused `net.Socket` (so that no read starts before the
 * stream is handed over) connecting to a numeric host or a unix path.
 *
 * Success is reported from Node's 'connect' event; failures and cancellation
 * go through the hub's callback queue, because Node can report a failed
 * connect within the tick that started it.
 */
export class ConnectRequest implements Handle, Owned {
  readonly #socket: Socket;
  readonly #where: string;
  #cb: ConnectCallback | null;

  constructor(
    private readonly rt: Runtime,
    opts: ConnectOptions,
    cb: ConnectCallback,
  ) {
    this.#cb = cb;
    this.#socket = new Socket({ allowHalfOpen: true });
    this.#socket.pause();
    const host = 'path' in opts ? '' : (opts.host ?? '127.0.0.1');
    if ('path' in opts) {
      this.#where = opts.path;
      this.#socket.once('connect', () => this.#connected({ local: '', remote: opts.path }));
    } else {
      this.#where = formatAddress({ address: host, port: opts.port, family: ipFamily(host) });
      if (isIP(host) === 0) {
        this.#fail(invalidAddressError(host));
        return;
      }
      this.#socket.once('connect', () => this.#connected(null));
    }
    this.#socket.on('error', (err: Error) => this.#fail(err));
    try {
      if ('path' in opts) this.#socket.connect({ path: opts.path });
      else this.#socket.connect({ host, port: opts.port });
    } catch (err) {
      // Bad arguments (a port out of range) are the caller's mistake: thrown, never called back.
      this.#cb = null;
      this.#socket.destroy();
      throw err;
    }
    rt.owned.add(this);
  }

  get active(): boolean {
    return this.#cb !== null;
  }

  get keepsAlive(): boolean {
    return this.#cb !== null;
  }

  get holdsSocket(): boolean {
    return false;
  }

  cancel(): void {
    if (this.#cb === null) return;
    this.#socket.destroy();
    this.#fail(canceledError('connect'));
  }

  closeByHub(): void {
    this.cancel();
  }

  toString(): string {
    return `connect(${this.#where})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  #take(): ConnectCallback | null {
    const cb = this.#cb;
    this.#cb = null;
    this.rt.owned.delete(this);
    return cb;
  }

  #connected(unix: { local: string; remote: string } | null): void {
    const cb = this.#take();
    if (cb === null) return;
    this.#socket.removeAllListeners('error');
    this.rt.enter();
    const stream = new TcpStream(this.rt, this.#socket, unix);
    this.rt.call(cb, this, '', null, stream);
  }

  #fail(err: Error): void {
    const cb = this.#take();
    if (cb === null) return;
    this.#socket.destroy();
    this.rt.callbacks.push(() => this.rt.call(cb, this, '', err), false);
  }
}
