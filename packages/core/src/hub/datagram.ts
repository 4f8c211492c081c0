import type { SocketAddress } from './stream.js';

/** Where a UDP socket binds: a numeric host (default `'127.0.0.1'`; its family picks udp4 or udp6) and port (default 0 = any). */
export interface UdpOptions {
  host?: string;
  port?: number;
}

/**
 * A bound UDP socket.
 *
 * `recvStart(onMessage)` delivers each datagram (the buffer is the callee's)
 * until `recvStop()`. `send()`'s `cb` runs exactly once, from a later loop
 * turn (`ECANCELED` if closed first); `to.address` must be numeric. Active
 * while receiving or while sends are pending. After `close()`, `recvStart()`
 * and `send()` throw `ERR_HUB_CLOSED`.
 */
export interface Datagram {
  recvStart(onMessage: (data: Uint8Array, from: SocketAddress) => void): void;
  recvStop(): void;
  send(data: Uint8Array, to: SocketAddress, cb?: (err: Error | null) => void): void;
  close(): void;
  readonly address: SocketAddress;
  ref(): void;
  unref(): void;
}
