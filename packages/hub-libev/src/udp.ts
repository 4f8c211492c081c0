import {
  canceledError,
  type Datagram,
  hubClosedError,
  type SocketAddress,
  type UdpOptions,
} from '@greenhub/core';
import { copyOut } from './internal/bytes.js';
import { ipFamily, statusError } from './internal/errors.js';
import { type Owner, TrackedHandle } from './internal/owner.js';
import { addon, type NativeUdp } from './load-addon.js';

type Done = (err: Error | null) => void;
type OnMessage = (data: Uint8Array, from: SocketAddress) => void;

const UDP_SLAB = new Uint8Array(addon.udpSlab);
const UDP_BATCH = new Int32Array(addon.udpBatch);
const UDP_BATCH_BYTES = new Uint8Array(addon.udpBatch);
const ENTRY = 6;
/** Datagrams held while not receiving (a callback of the batch stopped it), as many as hub-pure holds. */
const HELD_MAX = 1024;

/** The last IPv4 sender's address and its text: a server mostly hears the same few peers. */
let lastIPv4 = 0;
let lastIPv4Text = '';

/** The sender of the batch entry at `e` (an index into UDP_BATCH). */
function senderAt(e: number): SocketAddress {
  const port = UDP_BATCH[e + 3]!;
  if (UDP_BATCH[e + 2] === 4) {
    const raw = UDP_BATCH[e + 4]!;
    if (raw !== lastIPv4 || lastIPv4Text === '') {
      const b = 4 * (e + 4);
      lastIPv4 = raw;
      lastIPv4Text = `${UDP_BATCH_BYTES[b]}.${UDP_BATCH_BYTES[b + 1]}.${UDP_BATCH_BYTES[b + 2]}.${UDP_BATCH_BYTES[b + 3]}`;
    }
    return { address: lastIPv4Text, port, family: 'IPv4' };
  }
  const at = UDP_BATCH[e + 4]!;
  const address = Buffer.from(UDP_SLAB.buffer, at, UDP_BATCH[e + 5]!).toString('latin1');
  return { address, port, family: 'IPv6' };
}

/** A bound UDP socket: recvfrom on readiness, sendto at once or queued on EAGAIN. */
export class LibevDatagram extends TrackedHandle implements Datagram {
  readonly address: SocketAddress;
  readonly #native: NativeUdp;
  #onMessage: OnMessage | undefined;
  #receiving = false;
  /** Datagrams of a batch that came after a callback of it stopped receiving; the next `recvStart()` delivers them. */
  #held: [Uint8Array, SocketAddress][] | undefined;
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
    native.onmessages = (count) => {
      for (let i = 0; i < count; i++) {
        const e = i * ENTRY;
        this.#arrived(copyOut(UDP_SLAB, UDP_BATCH[e]!, UDP_BATCH[e + 1]!), senderAt(e));
      }
    };
    native.onsend = (status) => {
      const cb = this.#sends.shift();
      this.#sync();
      if (cb) this.invoke('send callback', cb, status < 0 ? statusError(status, 'send') : null);
    };
  }

  recvStart(onMessage: OnMessage): void {
    if (this.#closed) throw hubClosedError(this.toString());
    this.#onMessage = onMessage;
    if (this.#receiving) return;
    this.#receiving = true;
    this.#native.recvStart();
    this.#sync();
    // Never from inside recvStart(): on a later turn.
    if (this.#held) this.owner.complete(() => this.#deliverHeld(), 'message callback');
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
    this.#held = undefined;
    this.#native.close();
    const sends = this.#sends;
    this.#sends = [];
    for (const cb of sends) this.#complete(cb, canceledError('send'));
    this.markClosed();
  }

  override toString(): string {
    return `udp(${this.address.address}:${this.address.port})`;
  }

  #arrived(data: Uint8Array, from: SocketAddress): void {
    if (this.#receiving && this.#held === undefined) {
      this.invoke('message callback', this.#onMessage!, data, from);
      return;
    }
    if (this.#closed) return;
    const held = (this.#held ??= []);
    if (held.length < HELD_MAX) held.push([data, from]);
    if (this.#receiving) this.#deliverHeld();
  }

  #deliverHeld(): void {
    const held = this.#held;
    if (held === undefined) return;
    while (this.#receiving && held.length > 0) {
      const [data, from] = held.shift()!;
      this.invoke('message callback', this.#onMessage!, data, from);
    }
    if (held.length === 0 && this.#held === held) this.#held = undefined;
  }

  #sync(): void {
    this.setActive(!this.#closed && (this.#receiving || this.#sends.length > 0));
  }

  #complete(cb: Done | undefined, err: Error | null): void {
    if (cb) this.owner.complete(() => cb(err), 'send callback');
  }
}
