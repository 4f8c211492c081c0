import { hubClosedError, type Listener, type ListenOptions, type SocketAddress } from '@greenhub/core';
import { ipFamily, statusError } from './internal/errors.js';
import { type Owner, TrackedHandle } from './internal/owner.js';
import { addon, type NativeListener } from './load-addon.js';
import { LibevStream } from './stream.js';

const DEFAULT_BACKLOG = 511;

/** A listening TCP or unix socket, bound synchronously, accepting natively in batches. */
export class LibevListener extends TrackedHandle implements Listener {
  readonly address: SocketAddress;
  readonly #native: NativeListener;
  #closed = false;

  constructor(owner: Owner, opts: ListenOptions) {
    const native = new addon.Listener();
    const backlog = opts.backlog ?? DEFAULT_BACKLOG;
    let where: SocketAddress;
    let status: number;
    if ('path' in opts) {
      where = { address: opts.path, port: 0, family: 'unix' };
      status = native.listen('unix', opts.path, 0, backlog);
    } else {
      const host = opts.host ?? '127.0.0.1';
      where = { address: host, port: opts.port ?? 0, family: ipFamily(host) };
      status = native.listen(
        'tcp',
        host,
        opts.port ?? 0,
        backlog,
        opts.reusePort ?? false,
        opts.ipv6Only ?? false,
      );
    }
    if (status < 0) throw statusError(status, 'listen', where);
    super(owner, native);
    this.#native = native;
    this.address = native.address() ?? where;
  }

  start(onConnection: (stream: LibevStream) => void, onError: (err: Error) => void): void {
    if (this.#closed) throw hubClosedError(this.toString());
    this.owner.throwIfClosed();
    this.#native.onconnection = (fds) => {
      for (const fd of fds) {
        const stream = new LibevStream(this.owner, new addon.Stream(fd));
        // Closed by an earlier onConnection in this batch: no callback runs again.
        if (this.#closed) stream.close();
        else this.invoke('connection callback', onConnection, stream);
      }
    };
    this.#native.onerror = (status) => {
      if (!this.#closed) this.invoke('listener error callback', onError, statusError(status, 'accept'));
    };
    this.#native.start();
    this.setActive(true);
  }

  stop(): void {
    this.#native.stop();
    this.setActive(false);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
    this.markClosed();
  }

  override toString(): string {
    const a = this.address;
    return a.family === 'unix' ? `listener(${a.address})` : `listener(${a.address}:${a.port})`;
  }
}
