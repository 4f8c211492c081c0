import {
  type ConnectOptions,
  canceledError,
  type Handle,
  type SocketAddress,
  type Stream,
} from '@greenhub/core';
import { ipFamily, statusError } from './internal/errors.js';
import { type Owner, Tracked } from './internal/owner.js';
import { addon, type NativeStream } from './load-addon.js';
import { LibevStream } from './stream.js';

type ConnectCallback = (err: Error | null, stream?: Stream) => void;

/**
 * One connect request: a non-blocking connect finished on EV_WRITE with
 * SO_ERROR. Its callback runs exactly once, on a later loop turn.
 */
export class ConnectRequest extends Tracked implements Handle {
  readonly #cb: ConnectCallback;
  readonly #where: SocketAddress;
  #native: NativeStream | undefined;
  #done = false;

  constructor(owner: Owner, opts: ConnectOptions, cb: ConnectCallback) {
    super(owner, true, false);
    this.#cb = cb;
    this.setActive(true);
    let status: number;
    if ('path' in opts) {
      this.#where = { address: opts.path, port: 0, family: 'unix' };
      this.#native = new addon.Stream();
      status = this.#native.connect('unix', opts.path);
    } else {
      const host = opts.host ?? '127.0.0.1';
      this.#where = { address: host, port: opts.port, family: 'IPv4' };
      try {
        this.#where.family = ipFamily(host);
      } catch (err) {
        this.#finish(() => cb(err as Error));
        return;
      }
      this.#native = new addon.Stream();
      status = this.#native.connect('tcp', host, opts.port);
    }
    if (status === 1) {
      this.#native.onconnect = (result) => this.#connected(result);
    } else {
      owner.complete(() => this.#connected(status), 'connect callback');
    }
  }

  cancel(): void {
    if (this.#done) return;
    this.#native?.close();
    this.#finish(() => this.#cb(canceledError('connect')));
  }

  /** The hub closed first: the request is cancelled. */
  close(): void {
    this.cancel();
  }

  #connected(status: number): void {
    if (this.#done) return;
    const native = this.#native!;
    native.onconnect = undefined;
    this.#done = true;
    this.markClosed();
    if (status < 0) {
      native.close();
      this.invoke('connect callback', this.#cb, statusError(status, 'connect', this.#where));
    } else {
      this.invoke('connect callback', this.#cb, null, new LibevStream(this.owner, native));
    }
  }

  #finish(deliver: () => void): void {
    this.#done = true;
    this.markClosed();
    this.owner.complete(deliver, 'connect callback');
  }
}
