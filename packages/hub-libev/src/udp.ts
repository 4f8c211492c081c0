import {
  canceledError,
  type Datagram,
  hubClosedError,
  type SocketAddress,
  type UdpOptions,
} from '@greenhub/core';
import { ipFamily, statusError } from './internal/errors.js';
import { type Owner, TrackedHandle } from './internal/owner.js';
import { addon, type NativeUdp } from './load-addon.js';

type Done = (err: Error | null) => void;

/** A bound UDP socket: recvfrom on readiness, sendto at once or queued on EAGAIN. */
export class LibevDatagram extends TrackedHandle implements Datagram {
  readonly address: SocketAddress;
  readonly #native: NativeUdp;
  #onMessage: ((data: Uint8Array, from: SocketAddress) => void) | undefined;
  #receiving = false;
  #sends: (Done | undefined)[] = [];
  #closed = false;

  constructor(owner: Owner, opts: UdpOptions) {
    const host = opts.host ?? '127.0.0.1';
    const port = opts.port ?? 0;
    const family = ipFamily(host);
    const native = new addon.Udp();
    const status = native.bind(host, port);
    if (status < 0) throw statusError(status, 'bind', { address: host, port, family });
    super(owner, native);
    this.#native = native;
    this.address = native.address() ?? { address: host, port, family };
    native.onmessage = (data, from) => {
      const cb = this.#onMessage;
      if (cb) this.invoke('message callback', cb, data, from);
    };
    native.onsend = (status) => {
      const cb = this.#sends.shift();
      this.#sync();
      if (cb) this.invoke('send callback', cb, status < 0 ? statusError(status, 'send') : null);
    };
  }

  recvStart(onMessage: (data: Uint8Array, from: SocketAddress) => void): void {
    if (this.#closed) throw hubClosedError(this.toString());
    this.#onMessage = onMessage;
    if (this.#receiving) return;
    this.#receiving = true;
    this.#native.recvStart();
    this.#sync();
  }

  recvStop(): void {
    if (!this.#receiving) return;
    this.#receiving = false;
    this.#native.recvStop();
    this.#sync();
  }

  send(data: Uint8Array, to: SocketAddress, cb?: Done): void {
    if (this.#closed) throw hubClosedError(this.toString());
    let status: number;
    try {
      ipFamily(to.address);
      status = this.#native.send(data, to.address, to.port);
    } catch (err) {
      this.#complete(cb, err as Error);
      return;
    }
    if (status === 1) {
      this.#sends.push(cb);
      this.#sync();
    } else {
      this.#complete(cb, status === 0 ? null : statusError(status, 'send', to));
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#receiving = false;
    this.#onMessage = undefined;
    this.#native.close();
    const sends = this.#sends;
    this.#sends = [];
    for (const cb of sends) this.#complete(cb, canceledError('send'));
    this.markClosed();
  }

  override toString(): string {
    return `udp(${this.address.address}:${this.address.port})`;
  }

  #sync(): void {
    this.setActive(!this.#closed && (this.#receiving || this.#sends.length > 0));
  }

  #complete(cb: Done | undefined, err: Error | null): void {
    if (cb) this.owner.complete(() => cb(err), 'send callback');
  }
}
