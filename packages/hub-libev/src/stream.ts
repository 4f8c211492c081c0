import { canceledError, hubClosedError, type SocketAddress, type Stream } from '@greenhub/core';
import { copyOut } from './internal/bytes.js';
import { statusError } from './internal/errors.js';
import { type Owner, TrackedHandle } from './internal/owner.js';
import { addon, type NativeStream } from './load-addon.js';

type Done = (err: Error | null) => void;

/** The LibevStream a native stream belongs to. */
const OWNER = Symbol('LibevStream');
type OwnedNative = NativeStream & { [OWNER]?: LibevStream };

/** Where native reads land (see Loop::QueueRead); `onreads` copies each chunk out. */
const READ_SLAB = new Uint8Array(addon.readSlab);
/** The reads `onreads(count)` hands over: slot, offset in READ_SLAB, result (bytes; 0 end; -errno). */
const READ_BATCH = new Int32Array(addon.readBatch);
/** Open streams by the slot that names them in READ_BATCH; closed ones give theirs back. */
const BY_SLOT: (LibevStream | undefined)[] = [];
const FREE_SLOTS: number[] = [];

/** A read handed over while its stream was not reading: a chunk, the end (null) or the read error. */
type Stashed = Uint8Array | Error | null;

/** The callback list of a stream with none pending: shared, never pushed to (an idle stream holds no array of its own). */
const NONE: readonly (Done | undefined)[] = Object.freeze([]);

/** `list` with `cb` appended: the list itself once it is a stream's own. */
function pushed(list: readonly (Done | undefined)[], cb: Done | undefined): (Done | undefined)[] {
  const own = list === NONE ? [] : (list as (Done | undefined)[]);
  own.push(cb);
  return own;
}

const NO_ADDRESS: SocketAddress = Object.freeze({ address: '', port: 0, family: 'IPv4' }) as SocketAddress;

/**
 * A connected TCP or unix stream whose reads and writes are done natively on
 * libev readiness. Write callbacks are kept here, in order; native code only
 * reports how many queued writes completed.
 */
export class LibevStream extends TrackedHandle implements Stream {
  static {
    // Shared by every stream (`this` is the native object), instead of closures per stream
    // (the memory of every idle connection); handed to the addon once, which then calls them
    // without looking them up on the native object per call.
    addon.setCallbacks({
      onreads(count: number) {
        for (let i = 0; i < 3 * count; i += 3) {
          const slot = READ_BATCH[i]!;
          const stream = slot >= 0 ? BY_SLOT[slot] : undefined;
          if (stream) stream.#arrived(READ_BATCH[i + 1]!, READ_BATCH[i + 2]!);
        }
      },
      onwrite(this: OwnedNative, count: number, status: number) {
        const stream = this[OWNER];
        if (stream) stream.#written(count, status);
      },
      onshutdown(this: OwnedNative, status: number) {
        const stream = this[OWNER];
        if (stream) stream.#shutdownDone(status);
      },
    });
  }

  readonly #native: NativeStream;
  readonly #slot: number;
  /**
   * Reads handed over while not reading, oldest first: a batch may hold a read of this stream
   * after a callback earlier in it stopped the reading. Delivered from the next `readStart()`.
   */
  #stash: Stashed[] | undefined;
  #onRead: ((chunk: Uint8Array | null, err?: Error) => void) | undefined;
  #reading = false;
  #ended = false;
  #closed = false;
  /** Callbacks of writes the kernel has not taken yet, oldest first. */
  #writes: readonly (Done | undefined)[] = NONE;
  #shutdowns: readonly (Done | undefined)[] = NONE;
  #shutdownPending = false;
  /** The first write failure: a later shutdown fails with it (as on hub-pure), not with ENOTCONN. */
  #failure: Error | null = null;
  #local: SocketAddress | undefined;
  #remote: SocketAddress | undefined;

  constructor(owner: Owner, native: NativeStream) {
    super(owner, native);
    this.#native = native;
    (native as OwnedNative)[OWNER] = this;
    this.#slot = FREE_SLOTS.pop() ?? BY_SLOT.length;
    BY_SLOT[this.#slot] = this;
    native.setSlot(this.#slot);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get writeQueueSize(): number {
    // The addon queues only what the kernel did not take, and every such write is listed in
    // #writes until it completes: while none is, no call into the addon.
    return this.#closed || this.#writes.length === 0 ? 0 : this.#native.queued;
  }

  get localAddress(): SocketAddress {
    if (!this.#local && !this.#closed) this.#local = this.#native.localAddress();
    return this.#local ?? NO_ADDRESS;
  }

  get remoteAddress(): SocketAddress {
    if (!this.#remote && !this.#closed) this.#remote = this.#native.remoteAddress();
    return this.#remote ?? NO_ADDRESS;
  }

  readStart(onRead: (chunk: Uint8Array | null, err?: Error) => void): void {
    if (this.#closed) throw hubClosedError(this.toString());
    this.#onRead = onRead;
    if (this.#ended || this.#reading) return;
    this.#reading = true;
    this.#native.readStart();
    this.#sync();
    // Never from inside readStart(): on a later turn, as reads come.
    if (this.#stash) this.owner.complete(() => this.#drainStash(), 'read callback');
  }

  readStop(): void {
    if (!this.#reading) return;
    this.#reading = false;
    this.#native.readStop();
    this.#sync();
  }

  write(data: Uint8Array | readonly Uint8Array[], cb?: Done): void {
    if (this.#closed) throw hubClosedError(this.toString());
    const status = this.#native.write(data);
    if (status === 1) {
      this.#writes = pushed(this.#writes, cb);
      this.#sync();
    } else if (status === 0) {
      this.#complete(cb, null, 'write callback');
    } else {
      const err = statusError(status, 'write');
      this.#failure ??= err;
      this.#complete(cb, err, 'write callback');
    }
  }

  shutdown(cb?: Done): void {
    if (this.#closed) throw hubClosedError(this.toString());
    if (this.#shutdownPending) {
      this.#shutdowns = pushed(this.#shutdowns, cb);
      return;
    }
    if (this.#failure) {
      this.#complete(cb, this.#failure, 'shutdown callback');
      return;
    }
    const status = this.#native.shutdown();
    if (status === 1) {
      this.#shutdownPending = true;
      this.#shutdowns = pushed(this.#shutdowns, cb);
      this.#sync();
    } else {
      this.#complete(cb, status === 0 ? null : statusError(status, 'shutdown'), 'shutdown callback');
    }
  }

  close(): void {
    if (this.#closed) return;
    this.localAddress;
    this.remoteAddress;
    this.#closed = true;
    this.#reading = false;
    this.#onRead = undefined;
    this.#stash = undefined;
    this.#native.close();
    BY_SLOT[this.#slot] = undefined;
    FREE_SLOTS.push(this.#slot);
    const writes = this.#writes;
    const shutdowns = this.#shutdowns;
    this.#writes = NONE;
    this.#shutdowns = NONE;
    this.#shutdownPending = false;
    for (const cb of writes) this.#complete(cb, canceledError('write'), 'write callback');
    for (const cb of shutdowns) this.#complete(cb, canceledError('shutdown'), 'shutdown callback');
    this.markClosed();
  }

  setNoDelay(on: boolean): void {
    if (!this.#closed) this.#native.setNoDelay(on);
  }

  setKeepAlive(on: boolean, delayMs = 0): void {
    if (!this.#closed)
      this.#native.setKeepAlive(on, delayMs > 0 ? Math.max(1, Math.floor(delayMs / 1000)) : 0);
  }

  override toString(): string {
    const r = this.remoteAddress;
    return r.family === 'unix'
      ? `stream(${r.address || this.localAddress.address})`
      : `stream(${r.address}:${r.port})`;
  }

  #sync(): void {
    this.setActive(!this.#closed && (this.#reading || this.#writes.length > 0 || this.#shutdownPending));
  }

  #complete(cb: Done | undefined, err: Error | null, context: string): void {
    if (cb) this.owner.complete(() => cb(err), context);
  }

  /** A read of the batch `onreads` hands over: `result` bytes at `offset` of the slab, 0 the end, or -errno. */
  #arrived(offset: number, result: number): void {
    const read: Stashed =
      result > 0 ? copyOut(READ_SLAB, offset, result) : result < 0 ? statusError(result, 'read') : null;
    if (this.#reading && this.#stash === undefined) {
      this.#deliver(read);
      return;
    }
    (this.#stash ??= []).push(read);
    if (this.#reading) this.#drainStash();
  }

  #drainStash(): void {
    const stash = this.#stash;
    if (stash === undefined) return;
    while (this.#reading && stash.length > 0) this.#deliver(stash.shift()!);
    if (stash.length === 0 && this.#stash === stash) this.#stash = undefined;
  }

  #deliver(read: Stashed): void {
    const onRead = this.#onRead!;
    if (read instanceof Uint8Array) {
      this.invoke('read callback', onRead, read);
      return;
    }
    this.#ended = true;
    this.#reading = false;
    this.#sync();
    if (read === null) this.invoke('read callback', onRead, null);
    else this.invoke('read callback', onRead, null, read);
  }

  #written(count: number, status: number): void {
    const writes = this.#writes;
    const done = writes === NONE ? NONE : (writes as (Done | undefined)[]).splice(0, count);
    if (writes.length === 0) this.#writes = NONE;
    this.#sync();
    const err = status < 0 ? statusError(status, 'write') : null;
    if (err) this.#failure ??= err;
    for (const cb of done) if (cb) this.invoke('write callback', cb, err);
  }

  #shutdownDone(status: number): void {
    this.#shutdownPending = false;
    const done = this.#shutdowns;
    this.#shutdowns = NONE;
    this.#sync();
    const err = status < 0 ? statusError(status, 'shutdown') : null;
    for (const cb of done) if (cb) this.invoke('shutdown callback', cb, err);
  }
}
