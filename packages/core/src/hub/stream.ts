/** An endpoint. For unix sockets `address` is the path and `port` is 0. */
export interface SocketAddress {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6' | 'unix';
}

/** Where a listener binds: TCP on a numeric host (default `'127.0.0.1'`) and port (default 0 = any), or a unix path. */
export type ListenOptions =
  | { host?: string; port?: number; backlog?: number; reusePort?: boolean; ipv6Only?: boolean }
  | { path: string; backlog?: number };

/** Where to connect: TCP to a numeric host (default `'127.0.0.1'`) and port, or a unix path. */
export type ConnectOptions = { host?: string; port: number } | { path: string };

/**
 * A connected byte stream (TCP or unix socket).
 *
 * Rules:
 * - `readStart(onRead)` delivers chunks until `readStop()`; each chunk is the
 *   callee's to keep (ownership moves). `onRead(null)` is end of stream;
 *   `onRead(null, err)` is an error (`ECONNRESET`, ...). After either, no
 *   further `onRead` call happens. `readStop()` takes effect at once, even
 *   from another stream's `onRead`: what the hub already read (a hub may read
 *   several streams before it calls back) waits for the next `readStart()`,
 *   never lost and never reordered. A hub may call several streams' `onRead`
 *   one after another and run the microtasks they queued afterwards.
 * - `write()` takes the bytes at once (the caller may reuse its buffers after
 *   the call returns); its `cb` runs exactly once, from a later loop turn, when
 *   the bytes reached the kernel or failed (`EPIPE`, `ECONNRESET`, or
 *   `ECANCELED` when the stream was closed first). Writes are ordered.
 * - `writeQueueSize` is the number of bytes accepted but not yet in the kernel.
 * - `shutdown()` half-closes after every queued write; its `cb` runs once.
 * - `close()` is immediate and idempotent: pending write and shutdown
 *   callbacks get `ECANCELED`; `onRead` is never called again. Afterwards
 *   `readStart()`, `write()` and `shutdown()` throw `ERR_HUB_CLOSED`: work
 *   that was never accepted gets no callback.
 * - A stream is active (and keeps the process alive when referenced) while it
 *   reads or has writes or a shutdown pending.
 */
export interface Stream {
  readStart(onRead: (chunk: Uint8Array | null, err?: Error) => void): void;
  readStop(): void;
  write(data: Uint8Array | readonly Uint8Array[], cb?: (err: Error | null) => void): void;
  readonly writeQueueSize: number;
  shutdown(cb?: (err: Error | null) => void): void;
  close(): void;
  readonly closed: boolean;
  setNoDelay(on: boolean): void;
  setKeepAlive(on: boolean, delayMs?: number): void;
  /** Where this end is bound. Read as often as callers like (a hub works it out once), and still known after `close()`. */
  readonly localAddress: SocketAddress;
  /** Where the peer is; as `localAddress`, known after `close()`. */
  readonly remoteAddress: SocketAddress;
  ref(): void;
  unref(): void;
}

/**
 * A listening socket.
 *
 * `start(onConnection, onError)` begins accepting; each accepted stream is
 * handed over not yet reading. Accept errors that do not end listening
 * (`EMFILE`, `ENFILE`, as far as the hub can observe them: libuv hides them
 * from Node) go to `onError`; the listener keeps going. `stop()`
 * pauses accepting (the kernel keeps queueing up to the backlog); `close()`
 * releases the port (and unlinks nothing: removing a unix path is the caller's
 * choice). Active while started.
 */
export interface Listener {
  start(onConnection: (stream: Stream) => void, onError: (err: Error) => void): void;
  stop(): void;
  close(): void;
  readonly address: SocketAddress;
  ref(): void;
  unref(): void;
}
