import { type OnReadOpts, Socket } from 'node:net';
import type { SocketAddress, Stream } from '@greenhub/core';
import { canceledError, hubClosedError, systemError } from '@greenhub/core';
import { type Request, Requests } from './internal/requests.js';
import type { Owned, Runtime } from './internal/runtime.js';
import { formatAddress, ipAddress, unixAddress } from './internal/socket-address.js';

/** Paths of a unix-socket stream; Node does not report them for pipes, so the hub passes what it knows. */
export interface UnixEnds {
  local: string;
  remote: string;
}

type OnRead = (chunk: Uint8Array | null, err?: Error) => void;

/**
 * The bytes of `data`, copied: a read out of the shared READ_BUFFER, or a write.
 *
 * For writes: Node keeps a reference to a written buffer until the kernel has taken all of
 * it (a partial write leaves the rest queued), while the contract lets the
 * caller reuse its buffers as soon as `write()` returns; one copy is the only
 * way to honour both. An array becomes one buffer: one write instead of writev.
 */
function copyBytes(data: Uint8Array | readonly Uint8Array[]): Buffer {
  if (!(data instanceof Uint8Array)) return Buffer.concat(data);
  // Cheaper than Buffer.from(data), which takes the generic array-like path for a typed array.
  const copy = Buffer.allocUnsafe(data.byteLength);
  copy.set(data);
  return copy;
}

/** What every stream reads into (Node's `onread`); a read is copied out before the next one. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** What `net.Socket` takes beyond its typings: the handle of a connection another Socket holds. */
type AdoptOptions = ConstructorParameters<typeof Socket>[0] & {
  handle: object;
  pauseOnCreate: true;
  onread: OnReadOpts;
};

/**
 * `socket`'s connection in a new `net.Socket` that reads through `onread`: into
 * READ_BUFFER, handed to `onBytes` with the number of bytes read. That skips a
 * 64 KiB allocation, an ArrayBuffer and Readable's `push`/'data' per read, about
 * 1.6 µs of an echo round trip's 8.7 on `net` itself. Node offers `onread` only
 * to Sockets it does not make, so an accepted (or connected) one gives up its
 * handle: `_handle` and the `handle` option are how Node's own cluster and
 * child_process move connections between Sockets.
 *
 * `socket` must not have read yet (accepted with `pauseOnConnect`, or connected
 * while paused). It is destroyed without its connection, which also gives the
 * server's connection count back. The new Socket starts paused.
 */
function adopt(socket: Socket, onBytes: OnReadOpts['callback']): Socket {
  const holder = socket as unknown as { _handle: object | null };
  const handle = holder._handle;
  if (handle === null)
    throw new Error(`hub-pure: ${socket.remoteAddress ?? 'a socket'} has no handle to adopt`);
  holder._handle = null;
  socket.destroy();
  const options: AdoptOptions = {
    handle,
    pauseOnCreate: true,
    allowHalfOpen: true,
    onread: { buffer: READ_BUFFER, callback: onBytes },
  };
  return new Socket(options);
}

/**
 * A connected TCP or unix stream over a `net.Socket` (adopted from the one
 * Node made, see {@link adopt}, with `allowHalfOpen`, so EOF on the read side
 * leaves the write side open).
 *
 * Reading is `resume()`/`pause()` of the socket, which with `onread` start and
 * stop the handle's reads at once; a chunk that still arrives after
 * `readStop()` is kept until the next `readStart()`. The socket is Node-referenced only
 * while the stream is active and referenced, so an idle stream never holds the
 * process.
 */
export class TcpStream implements Stream, Owned {
  readonly localAddress: SocketAddress;
  readonly remoteAddress: SocketAddress;
  readonly #socket: Socket;
  readonly #requests: Requests;
  #onRead: OnRead | null = null;
  /**
   * Chunks Node handed over that `onRead` has not had yet: until the runtime's
   * batch delivery (see Runtime.deliverLater), or while not reading, until the
   * next `readStart()`. Made on the first chunk.
   */
  #queued: Buffer[] | undefined;
  /** In the runtime's list for the next batch delivery. */
  #listed = false;
  #closed = false;
  #shutdown = false;
  /** EOF or error seen; delivered to `onRead` once, when reading. */
  #ended = false;
  #endDelivered = false;
  #error: Error | null = null;
  #referenced = true;
  #nodeReferenced = true;
  /** Writes without a callback that Node has not finished yet (they keep the stream active). */
  #uncalled = 0;
  readonly #uncalledDone = (): void => {
    if (this.#closed || this.#uncalled === 0) return;
    if (--this.#uncalled === 0) this.#syncRef();
  };

  constructor(
    private readonly rt: Runtime,
    given: Socket,
    unix: UnixEnds | null,
  ) {
    const socket = adopt(given, (nread, buffer) => this.#onBytes(nread, buffer));
    this.#socket = socket;
    this.#requests = new Requests(rt, this);
    if (unix) {
      this.localAddress = unixAddress(unix.local);
      this.remoteAddress = unixAddress(unix.remote);
    } else {
      this.localAddress = ipAddress(socket.localAddress, socket.localPort);
      this.remoteAddress = ipAddress(socket.remoteAddress, socket.remotePort);
    }
    socket.on('end', () => this.#onEnd(null));
    socket.on('error', (err: Error) => this.#onEnd(err));
    socket.on('close', () => this.#requests.failAll(this.#error ?? undefined));
    rt.owned.add(this);
    this.#syncRef();
  }

  get active(): boolean {
    return !this.#closed && (this.#onRead !== null || this.#requests.size > 0 || this.#uncalled > 0);
  }

  get keepsAlive(): boolean {
    return this.#referenced && this.active;
  }

  get holdsSocket(): boolean {
    return !this.#closed;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get writeQueueSize(): number {
    return this.#closed ? 0 : this.#socket.writableLength;
  }

  readStart(onRead: OnRead): void {
    this.#assertUsable();
    if (this.#endDelivered) return;
    const wasReading = this.#onRead !== null;
    this.#onRead = onRead;
    this.#syncRef();
    // Never from inside readStart(): what is waiting goes out with the next batch.
    if (!wasReading && (this.#ended || (this.#queued !== undefined && this.#queued.length > 0))) this.#list();
    if (!this.#ended) this.#socket.resume();
  }

  readStop(): void {
    if (this.#onRead === null) return;
    this.#onRead = null;
    if (!this.#closed) this.#socket.pause();
    this.#syncRef();
  }

  write(data: Uint8Array | readonly Uint8Array[], cb?: (err: Error | null) => void): void {
    this.#assertUsable();
    const refused = this.#refusal('write');
    if (refused) {
      this.rt.complete(cb, refused, this, 'write');
      return;
    }
    if (cb === undefined) {
      // Nobody is told of this write's end: a count and one shared callback, no request of its
      // own (callback-less writes are the common case: net's Socket asks for one per 16 KiB).
      // A failure still reaches the socket's 'error' handler, and so later writes and reads.
      if (++this.#uncalled === 1) this.#syncRef();
      this.#socket.write(copyBytes(data), this.#uncalledDone);
      return;
    }
    const req = this.#requests.open('write', cb);
    this.#socket.write(copyBytes(data), (err) => this.#finish(req, err));
    this.#syncRef();
  }

  shutdown(cb?: (err: Error | null) => void): void {
    this.#assertUsable();
    const refused = this.#refusal('shutdown');
    if (refused) {
      this.rt.complete(cb, refused, this, 'shutdown');
      return;
    }
    this.#shutdown = true;
    const req = this.#requests.open('shutdown', cb);
    // Node passes the failure, if any, though its typings declare no argument.
    this.#socket.end((...args: unknown[]) => this.#finish(req, args[0] instanceof Error ? args[0] : null));
    this.#syncRef();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onRead = null;
    this.#queued = undefined;
    this.#uncalled = 0;
    this.#requests.failAll();
    this.#socket.destroy();
    this.rt.owned.delete(this);
  }

  closeByHub(): void {
    this.close();
  }

  setNoDelay(on: boolean): void {
    if (!this.#closed) this.#socket.setNoDelay(on);
  }

  setKeepAlive(on: boolean, delayMs?: number): void {
    if (!this.#closed) this.#socket.setKeepAlive(on, delayMs);
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
    const kind = this.remoteAddress.family === 'unix' ? 'unix-stream' : 'tcp-stream';
    const where =
      this.remoteAddress.family === 'unix'
        ? this.remoteAddress.address || this.localAddress.address
        : formatAddress(this.remoteAddress);
    return `${kind}(${where})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  #assertUsable(): void {
    if (this.#closed) throw hubClosedError(`${this}`);
    this.rt.assertOpen();
  }

  /** Why a new write or shutdown cannot be queued, as the error its callback gets. */
  #refusal(syscall: string): Error | null {
    if (this.#error) return this.#error;
    if (this.#shutdown) return systemError(syscall === 'write' ? 'EPIPE' : 'ENOTCONN', syscall);
    return null;
  }

  #finish(req: Request, err: Error | null | undefined): void {
    if (this.#requests.finish(req, this.#nodeError(err, req.syscall))) this.#syncRef();
  }

  /** Node's stream errors, in the codes the contract promises. */
  #nodeError(err: Error | null | undefined, syscall: string): Error | null {
    if (!err) return null;
    const code = (err as NodeJS.ErrnoException).code;
    // A request cut short by the socket being destroyed: blame what destroyed it.
    if (code === 'ERR_STREAM_DESTROYED' || code === 'ECANCELED') return this.#error ?? canceledError(syscall);
    if (code === 'ERR_STREAM_WRITE_AFTER_END') return systemError('EPIPE', syscall);
    return err;
  }

  /** A read into READ_BUFFER: copied out. Returns true, for Node to go on reading (readStop() pauses). */
  #onBytes(nread: number, buffer: Uint8Array): boolean {
    if (this.#closed) return true;
    const chunk = copyBytes(buffer.subarray(0, nread));
    // Delivered with the reads of every other stream of this turn (or, when not reading, kept
    // for the next readStart()).
    (this.#queued ??= []).push(chunk);
    if (this.#onRead !== null) this.#list();
    return true;
  }

  #onEnd(err: Error | null): void {
    if (this.#closed) return;
    // Recorded even after EOF was delivered: later writes and shutdowns fail with it.
    if (err) this.#error = err;
    if (this.#endDelivered || (this.#ended && !err)) return;
    this.#ended = true;
    // After the chunks still queued.
    if (this.#onRead !== null) this.#list();
  }

  #list(): void {
    if (this.#listed) return;
    this.#listed = true;
    this.rt.deliverLater(this);
  }

  /** @internal The runtime's batch delivery: queued chunks in order while reading, then the end. */
  deliverQueued(): void {
    this.#listed = false;
    const queued = this.#queued;
    if (queued !== undefined) {
      let i = 0;
      while (i < queued.length && this.#onRead !== null && !this.#closed) {
        const chunk = queued[i++]!;
        this.rt.call(this.#onRead, this, 'onRead', chunk);
      }
      if (i === queued.length) queued.length = 0;
      else queued.splice(0, i);
      if (queued.length > 0) return;
    }
    if (this.#ended) this.#deliverEnd();
  }

  #deliverEnd(): void {
    const onRead = this.#onRead;
    if (onRead === null || this.#closed || this.#endDelivered) return;
    this.#endDelivered = true;
    this.#onRead = null;
    this.#syncRef();
    if (this.#error) this.rt.call(onRead, this, 'onRead', null, this.#error);
    else this.rt.call(onRead, this, 'onRead', null);
  }

  #syncRef(): void {
    const want = this.keepsAlive;
    if (want === this.#nodeReferenced) return;
    this.#nodeReferenced = want;
    if (want) this.#socket.ref();
    else this.#socket.unref();
  }
}
