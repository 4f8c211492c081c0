import { Duplex } from 'node:stream';
import { type SocketAddress, type Stream, spawn, Waiter } from '@greenhub/core';
import { ConcurrentUse, IncompleteRead, limitOverrunError, socketClosedError } from './errors.js';
import { ChunkBuffer, decodeLine } from './internal/socket-buffer.js';

/** Above this many buffered received bytes the socket stops reading from the hub (backpressure). */
export const READ_HIGH_WATER_MARK = 64 * 1024;
/**
 * `write()` waits while more than this many bytes are unsent: queued in the
 * hub (`writeQueueSize`) or written without the hub having confirmed them yet.
 */
export const WRITE_HIGH_WATER_MARK = 64 * 1024;
/**
 * A `write()` asks the hub for a completion callback only once this many bytes
 * went out without one; the callback confirms those too, as writes are
 * ordered. A callback per small write was the largest single cost of an echo
 * round trip (one more call from the hub per write). Below the high-water
 * mark, so a writer that outruns the peer (or writes into a dead connection,
 * whose callback-less writes fail silently) always has a callback to wait for.
 */
const CONFIRM_EVERY = 16 * 1024;
/** Default `maxBytes` of `readUntil()` and `readLine()`. */
export const DEFAULT_MAX_LINE = 64 * 1024;

/**
 * @internal A property of every Socket: a function called (once, from the hub)
 * when the peer's end of stream or a read error arrives, e.g. while nobody
 * reads. The HTTP server uses it to abort a request whose client went away.
 */
export const onPeerEnd = Symbol('greenhub.onPeerEnd');

/** What a `write()` that need not wait returns (shared: no promise per write). */
const RESOLVED: Promise<void> = Promise.resolve();

const NO_ADDRESS: SocketAddress = { address: '', port: 0, family: 'IPv4' };

function addressOf(stream: Stream, which: 'localAddress' | 'remoteAddress'): SocketAddress {
  try {
    return stream[which];
  } catch {
    return NO_ADDRESS;
  }
}

type Step = IteratorResult<Uint8Array, void>;

/** What an iteration step gets at end of stream (shared: nothing in it changes). */
const FINISHED: IteratorReturnResult<void> = { done: true, value: undefined };

/**
 * An async iteration over a socket: an object with a flag, its steps done by
 * the socket's own methods, so that an idle connection's iteration costs no
 * closures.
 */
class SocketIterator implements AsyncIterableIterator<Uint8Array, void> {
  done = false;

  constructor(readonly socket: Socket) {}

  next(): Promise<Step> {
    return this.socket._step(this);
  }

  return(): Promise<Step> {
    this.done = true;
    return Promise.resolve(FINISHED);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/**
 * The wait of one iteration step, woken straight with the step's result (the
 * socket takes the chunk in its read callback): no `then()` and no extra turn
 * per chunk. Every way a wait ends but a result goes through `throw()` (see
 * Waiter), which ends the iteration.
 */
class StepWaiter extends Waiter<Step> {
  constructor(readonly iterator: SocketIterator) {
    super('socket read');
  }

  override throw(error: unknown): boolean {
    if (!super.throw(error)) return false;
    this.iterator.socket._stepEnded(this.iterator);
    return true;
  }
}

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}

/**
 * A connected TCP or unix stream socket whose every blocking call waits
 * cooperatively on the hub: `kill()`, a `Timeout` and the socket's own
 * `timeout` interrupt it. One greenlet reads and one writes at a time.
 *
 * Obtain one from {@link connect} or `Listener.accept()`.
 *
 * @example
 * await using sock = await connect({ port: 8080 });
 * await sock.write('ping\n');
 * const reply = await sock.readLine();
 */
export class Socket implements AsyncIterable<Uint8Array>, AsyncDisposable {
  /** Per-wait limit in ms for every read and write wait (`undefined` = none), like gevent's `settimeout()`; a wait that runs out rejects with `Timeout`. */
  timeout: number | undefined = undefined;

  readonly #stream: Stream;
  readonly #buffer = new ChunkBuffer();
  #reading = false;
  #eof = false;
  #readError: Error | undefined;
  #writeError: Error | undefined;
  #isClosed = false;
  #ended = false;
  #readBusy = false;
  #writeBusy = false;
  #readWaiter: Waiter<void> | StepWaiter | undefined;
  /** See {@link Socket._setReadHook}. */
  #readHook: (() => boolean) | undefined;
  #writeWaiter: Waiter<void> | undefined;
  /** Bytes handed to the hub and not yet confirmed by a write callback. */
  #unconfirmed = 0;
  /** Bytes written since the last write that asked for a callback. */
  #unmarked = 0;
  /** What each pending write callback confirms (its bytes and the unmarked ones before), in order. */
  #sizes: number[] | undefined;
  #sizesHead = 0;
  #closed: Promise<void> | undefined;
  #resolveClosed: (() => void) | undefined;
  #readable: ReadableStream<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;
  readonly #onRead = (chunk: Uint8Array | null, err?: Error): void => this.#handleRead(chunk, err);
  /** @internal See {@link onPeerEnd}. */
  [onPeerEnd]: (() => void) | undefined = undefined;

  /**
   * Wrap a connected hub stream (as handed out by a hub's `connect` or
   * listener). The socket starts reading at once into its buffer.
   *
   * @param stream a connected, not yet reading hub stream; the socket owns it from now on.
   */
  constructor(stream: Stream) {
    this.#stream = stream;
    this.#startReading();
  }

  /** Where this end is bound (asked of the hub when read: an idle connection need not hold it). */
  get localAddress(): SocketAddress {
    return addressOf(this.#stream, 'localAddress');
  }

  /** Where the peer is. */
  get remoteAddress(): SocketAddress {
    return addressOf(this.#stream, 'remoteAddress');
  }

  /** Resolves once `close()` was called; never rejects. */
  get closed(): Promise<void> {
    // Made on first use: most sockets are never asked (and every idle connection would pay).
    this.#closed ??= this.#isClosed
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          this.#resolveClosed = resolve;
        });
    return this.#closed;
  }

  // ---- reading -----------------------------------------------------------

  #handleRead(chunk: Uint8Array | null, err?: Error): void {
    if (this.#isClosed) return;
    if (chunk === null) {
      this.#reading = false;
      if (err) this.#readError = err;
      else this.#eof = true;
      this[onPeerEnd]?.();
    } else {
      this.#buffer.push(chunk);
      if (this.#buffer.size >= READ_HIGH_WATER_MARK) {
        this.#reading = false;
        this.#stream.readStop();
      }
      if (this.#readHook?.()) return;
    }
    const waiter = this.#readWaiter;
    if (waiter === undefined) return;
    this.#readWaiter = undefined;
    if (waiter instanceof StepWaiter) this.#deliverStep(waiter);
    else waiter.switch();
  }

  #startReading(): void {
    if (this.#reading || this.#eof || this.#readError || this.#isClosed) return;
    this.#reading = true;
    this.#stream.readStart(this.#onRead);
  }

  #afterTake(): void {
    if (this.#buffer.size < READ_HIGH_WATER_MARK) this.#startReading();
  }

  #beginRead(): void {
    if (this.#readBusy) {
      throw new ConcurrentUse('another greenlet is already reading this socket');
    }
    this.#readBusy = true;
  }

  /**
   * Wait for more data, end of stream, an error or close. Not an async function: returning the
   * waiter's promise saves a promise and a suspended frame per wait (the read path of every
   * round trip, and the memory of every idle connection). `#handleRead()` and `close()` forget
   * the waiter they wake; one left by a timeout or kill is settled and replaced by the next wait.
   */
  #waitReadable(timeout: number | undefined): Promise<void> {
    if (this.#isClosed) return Promise.reject(socketClosedError('read'));
    this.#startReading();
    const waiter = new Waiter<void>('socket read');
    this.#readWaiter = waiter;
    return waiter.get({ timeout });
  }

  /**
   * @internal For the HTTP server's hot path: everything buffered, without
   * waiting — `null` at end of stream, `undefined` when nothing arrived yet.
   * @throws `ERR_SOCKET_CLOSED`, or the read error once the buffer is empty.
   */
  _takeBuffered(): Uint8Array | null | undefined {
    if (this.#isClosed) throw socketClosedError('read');
    const size = this.#buffer.size;
    if (size > 0) {
      const out = this.#buffer.take(size);
      this.#afterTake();
      return out;
    }
    if (this.#readError) throw this.#readError;
    return this.#eof ? null : undefined;
  }

  /**
   * @internal Wait (up to `timeout` ms) until `_takeBuffered()` has something:
   * data, end of stream or an error. The caller must be the only reader.
   * @throws `ERR_SOCKET_CLOSED`; `Timeout` when `timeout` runs out.
   */
  _waitReadable(timeout: number | undefined): Promise<void> {
    if (!this.#isClosed && (this.#buffer.size > 0 || this.#eof || this.#readError)) return Promise.resolve();
    return this.#waitReadable(timeout);
  }

  /**
   * @internal Let `hook` take data as it arrives, in the hub's read callback
   * (with `_takeBuffered()`): it runs after each chunk was buffered, and when
   * it returns true (it took what it could use) a waiting reader is not
   * woken. End of stream and errors always wake the reader. For the
   * WebSocket reader, which parses frames there instead of waking its
   * greenlet for every message; `undefined` removes it.
   */
  _setReadHook(hook: (() => boolean) | undefined): void {
    this.#readHook = hook;
  }

  /**
   * @internal `write()` without a promise: queue `bytes` and say whether the
   * caller may go on (the HTTP server's responses, WebSocket frames).
   * @returns true while at most the high-water mark is unsent; false when the
   *   caller should `await write(EMPTY)` before sending more.
   * @throws as `write()` does before queueing.
   */
  _send(bytes: Uint8Array): boolean {
    this.#beginWrite('write');
    try {
      this.#queue(bytes);
    } finally {
      this.#writeBusy = false;
    }
    return !this.#backedUp();
  }

  /** Throw if nothing more can arrive because of an error or close. */
  #checkReadable(): void {
    if (this.#isClosed) throw socketClosedError('read');
    if (this.#readError) throw this.#readError;
  }

  /**
   * Read what is available, waiting for at least one byte.
   *
   * @param maxBytes the most bytes to return (default: a whole received chunk).
   * @returns a chunk of 1 to `maxBytes` bytes, or `null` at end of stream.
   * @throws ConcurrentUse if another greenlet is reading; `ERR_SOCKET_CLOSED` if
   *   the socket is (or gets) closed; the hub's error (`ECONNRESET`...);
   *   `Timeout` when `timeout` runs out.
   * @example
   * for (let chunk = await sock.read(); chunk; chunk = await sock.read()) handle(chunk);
   */
  read(maxBytes = Number.POSITIVE_INFINITY): Promise<Uint8Array | null> {
    // Not an async function: what needs no wait (data, end of stream, an error) costs one settled promise.
    if (!(maxBytes > 0)) {
      return Promise.reject(
        Object.assign(new RangeError('maxBytes must be > 0'), { code: 'ERR_OUT_OF_RANGE' }),
      );
    }
    if (!this.#readBusy) {
      try {
        const out = this.#takeNow(maxBytes);
        if (out !== undefined) return Promise.resolve(out);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return this.#readSlow(maxBytes);
  }

  async #readSlow(maxBytes: number): Promise<Uint8Array | null> {
    this.#beginRead();
    try {
      for (;;) {
        const out = this.#takeNow(maxBytes);
        if (out !== undefined) return out;
        await this.#waitReadable(this.timeout);
      }
    } finally {
      this.#readBusy = false;
    }
  }

  /**
   * What a read gets without waiting: the first buffered chunk (at most
   * `maxBytes`), null at end of stream, undefined when it must wait.
   * @throws `ERR_SOCKET_CLOSED`, or the read error once the buffer is empty.
   */
  #takeNow(maxBytes: number): Uint8Array | null | undefined {
    if (this.#isClosed) throw socketClosedError('read');
    if (this.#buffer.size > 0) {
      const out = this.#buffer.takeChunk(maxBytes);
      this.#afterTake();
      return out;
    }
    this.#checkReadable();
    return this.#eof ? null : undefined;
  }

  /**
   * Read exactly `n` bytes.
   *
   * @param n how many bytes to read.
   * @returns `n` bytes.
   * @throws IncompleteRead (with the bytes that did arrive) if the stream ends
   *   first; otherwise as {@link Socket.read}.
   * @example
   * const header = await sock.readExactly(4);
   */
  async readExactly(n: number): Promise<Uint8Array> {
    if (!(n >= 0) || !Number.isInteger(n)) {
      throw Object.assign(new RangeError(`n must be an integer >= 0, got ${n}`), {
        code: 'ERR_OUT_OF_RANGE',
      });
    }
    this.#beginRead();
    try {
      for (;;) {
        if (this.#isClosed) throw socketClosedError('read');
        if (this.#buffer.size >= n) {
          const out = this.#buffer.take(n);
          this.#afterTake();
          return out;
        }
        this.#checkReadable();
        if (this.#eof) {
          const partial = this.#buffer.take(this.#buffer.size);
          throw new IncompleteRead(partial, n);
        }
        await this.#waitReadable(this.timeout);
      }
    } finally {
      this.#readBusy = false;
    }
  }

  /**
   * Read up to and including `delimiter`.
   *
   * @param delimiter the bytes (or UTF-8 text) that end the record.
   * @param opts.maxBytes the longest record accepted, delimiter included (default 64 KiB).
   * @returns the record, delimiter included.
   * @throws `ERR_LIMIT_OVERRUN` if `maxBytes` bytes arrived without the
   *   delimiter (they stay buffered); IncompleteRead at end of stream (its
   *   `partial` holds the rest); otherwise as {@link Socket.read}.
   * @example
   * const head = await sock.readUntil('\r\n\r\n', { maxBytes: 8192 });
   */
  async readUntil(delimiter: Uint8Array | string, opts?: { maxBytes?: number }): Promise<Uint8Array> {
    const found = await this.#readRecord(toBytes(delimiter), opts?.maxBytes ?? DEFAULT_MAX_LINE, false);
    return found ?? new Uint8Array(0);
  }

  /**
   * Read one line and decode it as UTF-8.
   *
   * @param opts.maxBytes the longest line accepted, newline included (default 64 KiB).
   * @returns the line without its `\n` or `\r\n`; a last line that has no
   *   newline is returned as is; `null` at end of stream.
   * @throws `ERR_LIMIT_OVERRUN` for a longer line; otherwise as {@link Socket.read}.
   * @example
   * for (let line = await sock.readLine(); line !== null; line = await sock.readLine()) console.log(line);
   */
  async readLine(opts?: { maxBytes?: number }): Promise<string | null> {
    const raw = await this.#readRecord(NEWLINE, opts?.maxBytes ?? DEFAULT_MAX_LINE, true);
    if (raw === null) return null;
    return decodeLine(raw);
  }

  async #readRecord(delimiter: Uint8Array, maxBytes: number, restAtEof: boolean): Promise<Uint8Array | null> {
    if (delimiter.length === 0)
      throw Object.assign(new RangeError('empty delimiter'), { code: 'ERR_OUT_OF_RANGE' });
    if (!(maxBytes >= delimiter.length)) {
      throw Object.assign(new RangeError(`maxBytes must be >= the delimiter's length, got ${maxBytes}`), {
        code: 'ERR_OUT_OF_RANGE',
      });
    }
    this.#beginRead();
    try {
      let scanned = 0;
      for (;;) {
        if (this.#isClosed) throw socketClosedError('read');
        const size = this.#buffer.size;
        if (size > scanned) {
          const at = this.#buffer.indexOf(delimiter, Math.max(0, scanned - delimiter.length + 1));
          if (at >= 0 && at + delimiter.length <= maxBytes) {
            const out = this.#buffer.take(at + delimiter.length);
            this.#afterTake();
            return out;
          }
          if (at >= 0 || size >= maxBytes) throw limitOverrunError(maxBytes);
          scanned = size;
        }
        this.#checkReadable();
        if (this.#eof) {
          if (size === 0 && restAtEof) return null;
          const partial = this.#buffer.take(size);
          if (restAtEof) return partial;
          throw new IncompleteRead(partial, partial.length + delimiter.length);
        }
        await this.#waitReadable(this.timeout);
      }
    } finally {
      this.#readBusy = false;
    }
  }

  /**
   * Yield received chunks until end of stream.
   *
   * @returns an async iterator of chunks; breaking out of the loop leaves the socket open.
   * @throws as {@link Socket.read}.
   * @example
   * for await (const chunk of sock) process.stdout.write(chunk);
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array, void> {
    // Not an async generator, and a step that must wait returns its waiter's promise, resolved
    // with the step's result: the echo benchmark (bench/run.mjs) reads a chunk per step.
    return new SocketIterator(this);
  }

  /** The next step's result if it can be had without waiting (or the failure), else undefined. */
  #stepNow(iterator: SocketIterator): Step | undefined {
    const value = this.#takeNow(Number.POSITIVE_INFINITY);
    if (value === undefined) return undefined;
    if (value === null) {
      iterator.done = true;
      return FINISHED;
    }
    return { done: false, value };
  }

  /** @internal An iteration step (see SocketIterator). */
  _step(iterator: SocketIterator): Promise<Step> {
    if (iterator.done) return Promise.resolve(FINISHED);
    try {
      if (this.#readBusy) throw new ConcurrentUse('another greenlet is already reading this socket');
      const result = this.#stepNow(iterator);
      if (result !== undefined) return Promise.resolve(result);
    } catch (err) {
      iterator.done = true;
      return Promise.reject(err);
    }
    this.#readBusy = true;
    this.#startReading();
    const waiter = new StepWaiter(iterator);
    this.#readWaiter = waiter;
    return waiter.get({ timeout: this.timeout });
  }

  /** @internal A waiting step failed (timeout, kill, close, read error): the iteration is over. */
  _stepEnded(iterator: SocketIterator): void {
    this.#readBusy = false;
    iterator.done = true;
  }

  /** Called by the read callback: wake the waiting step with its result. */
  #deliverStep(waiter: StepWaiter): void {
    if (!waiter.waiting) return; // it ended (timeout, kill): the data stays for the next read
    let result: Step | undefined;
    try {
      result = this.#stepNow(waiter.iterator);
    } catch (err) {
      waiter.throw(err);
      return;
    }
    if (result === undefined) {
      this.#readWaiter = waiter;
      return;
    }
    this.#readBusy = false;
    waiter.switch(result);
  }

  // ---- writing -----------------------------------------------------------

  #beginWrite(what: string): void {
    if (this.#writeBusy) {
      throw new ConcurrentUse('another greenlet is already writing this socket');
    }
    if (this.#isClosed) throw socketClosedError(what);
    if (this.#writeError) throw this.#writeError;
    if (this.#ended) {
      throw Object.assign(new Error(`${what} after end()`), { code: 'ERR_STREAM_WRITE_AFTER_END' });
    }
    this.#writeBusy = true;
  }

  /**
   * Hand `bytes` to the hub, counting them until a write callback confirms (or
   * fails) them: this write's, or that of a later one (see {@link CONFIRM_EVERY}).
   */
  #queue(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#unconfirmed += bytes.length;
    this.#unmarked += bytes.length;
    if (this.#unmarked < CONFIRM_EVERY) {
      this.#stream.write(bytes);
      return;
    }
    // Made on the first confirmed write: an idle connection holds neither.
    (this.#sizes ??= []).push(this.#unmarked);
    this.#unmarked = 0;
    this.#stream.write(bytes, (this.#onWritten ??= (err) => this.#written(err)));
  }

  /**
   * Too much unsent: more than the high-water mark handed to the hub and not
   * yet confirmed by a write callback. That covers the hub's own queue
   * (`writeQueueSize`: queued bytes are unconfirmed too) without asking the
   * hub on every write, and a hub that drops its queue when the peer resets
   * before telling us: a writer that never waited would never learn of the
   * failure, and spin.
   */
  #backedUp(): boolean {
    return this.#unconfirmed > WRITE_HIGH_WATER_MARK;
  }

  #onWritten: ((err: Error | null) => void) | undefined;

  #written(err: Error | null): void {
    const sizes = this.#sizes!;
    const size = sizes[this.#sizesHead];
    if (size !== undefined) {
      this.#unconfirmed -= size;
      this.#sizesHead++;
      if (this.#sizesHead === sizes.length) {
        sizes.length = 0;
        this.#sizesHead = 0;
      }
    }
    if (err && !this.#isClosed && !this.#writeError) this.#writeError = err;
    this.#writeWaiter?.switch();
  }

  async #waitWritable(waiter: Waiter<void>): Promise<void> {
    this.#writeWaiter = waiter;
    try {
      await waiter.get({ timeout: this.timeout });
    } finally {
      if (this.#writeWaiter === waiter) this.#writeWaiter = undefined;
    }
  }

  /**
   * Queue bytes for sending; wait while more than the high-water mark (64 KiB)
   * is queued in the hub.
   *
   * @param data bytes, or text sent as UTF-8. The caller may reuse the buffer afterwards.
   * @returns once the bytes are queued below the high-water mark. A failure of
   *   bytes already queued (`EPIPE`, `ECONNRESET`) rejects the next `write()` or `end()`.
   * @throws ConcurrentUse if another greenlet is writing; `ERR_SOCKET_CLOSED`;
   *   `ERR_STREAM_WRITE_AFTER_END`; the hub's error; `Timeout` when `timeout`
   *   runs out while waiting for the queue to drain.
   * @example
   * await sock.write(new Uint8Array([1, 2, 3]));
   */
  write(data: Uint8Array | string): Promise<void> {
    // Not an async function: the usual write, which need not wait, costs no promise of its own.
    try {
      if (this._send(toBytes(data))) return RESOLVED;
    } catch (err) {
      return Promise.reject(err);
    }
    this.#writeBusy = true;
    return this.#drain();
  }

  /** The rest of a `write()` that must wait for the queue to go below the high-water mark. */
  async #drain(): Promise<void> {
    try {
      while (this.#backedUp()) {
        await this.#waitWritable(new Waiter<void>('socket write'));
        if (this.#isClosed) throw socketClosedError('write');
        if (this.#writeError) throw this.#writeError;
      }
    } finally {
      this.#writeBusy = false;
    }
  }

  /**
   * Half-close: send end of stream after every queued byte, and wait until it
   * went out. Reading keeps working.
   *
   * @returns once the shutdown completed; at once if already ended.
   * @throws as {@link Socket.write}.
   * @example
   * await sock.write(request); await sock.end(); const reply = await sock.read();
   */
  async end(): Promise<void> {
    if (this.#ended && !this.#writeBusy && !this.#isClosed) return;
    this.#beginWrite('end');
    this.#ended = true;
    try {
      const waiter = new Waiter<void>('socket write');
      let failure: Error | null = null;
      this.#stream.shutdown((err) => {
        failure = err;
        waiter.switch();
      });
      await this.#waitWritable(waiter);
      if (this.#isClosed) throw socketClosedError('end');
      if (this.#writeError) throw this.#writeError;
      if (failure) throw failure;
    } finally {
      this.#writeBusy = false;
    }
  }

  // ---- lifetime and options ----------------------------------------------

  /**
   * Close at once, dropping unread and unsent bytes. Every greenlet blocked on
   * the socket wakes with `ERR_SOCKET_CLOSED`. Idempotent.
   *
   * @example
   * spawnLater(1000, () => sock.close()); // unblocks a reader after 1 s
   */
  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#reading = false;
    this.#buffer.clear();
    this.#stream.close();
    const reader = this.#readWaiter;
    this.#readWaiter = undefined;
    reader?.throw(socketClosedError('read'));
    this.#writeWaiter?.throw(socketClosedError('write'));
    this.#resolveClosed?.();
  }

  /**
   * Close the socket (for `await using`).
   *
   * @returns a resolved promise.
   * @example
   * await using sock = await connect({ port });
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  /**
   * Turn Nagle's algorithm off (`true`, default) or on. No effect on a closed or unix socket.
   *
   * @param on whether to send small writes at once.
   * @example sock.setNoDelay();
   */
  setNoDelay(on = true): void {
    if (this.#isClosed) return;
    this.#stream.setNoDelay(on);
  }

  /**
   * Enable or disable TCP keep-alive probes. No effect on a closed or unix socket.
   *
   * @param on whether to probe (default `true`).
   * @param delayMs idle time before the first probe.
   * @example sock.setKeepAlive(true, 30_000);
   */
  setKeepAlive(on = true, delayMs?: number): void {
    if (this.#isClosed) return;
    this.#stream.setKeepAlive(on, delayMs);
  }

  // ---- adapters ----------------------------------------------------------

  /**
   * A WHATWG ReadableStream over `read()` (created once). Cancelling it closes the socket.
   *
   * @example
   * const text = await new Response(sock.readable).text();
   */
  get readable(): ReadableStream<Uint8Array> {
    this.#readable ??= new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          const chunk = await this.read();
          if (chunk === null) controller.close();
          else controller.enqueue(chunk);
        },
        cancel: () => this.close(),
      },
      { highWaterMark: 0 },
    );
    return this.#readable;
  }

  /**
   * A WHATWG WritableStream over `write()` (created once). Closing it calls
   * `end()`; aborting it closes the socket.
   *
   * @example
   * await someReadable.pipeTo(sock.writable);
   */
  get writable(): WritableStream<Uint8Array> {
    this.#writable ??= new WritableStream<Uint8Array>({
      write: (chunk) => this.write(chunk),
      close: () => this.end(),
      abort: () => this.close(),
    });
    return this.#writable;
  }

  /** The `net.Socket` members a driver handed a Duplex may call (see {@link Socket.toNodeStream}). */
  #socketLike(duplex: Duplex) {
    const self = (): Duplex => duplex;
    return {
      remoteAddress: this.remoteAddress.address,
      remotePort: this.remoteAddress.port,
      remoteFamily: this.remoteAddress.family,
      localAddress: this.localAddress.address,
      localPort: this.localAddress.port,
      setNoDelay: (on = true) => {
        this.setNoDelay(on);
        return self();
      },
      setKeepAlive: (on = false, delayMs?: number) => {
        this.setKeepAlive(on, delayMs);
        return self();
      },
      setTimeout: self,
      ref: self,
      unref: self,
      connect: () => {
        process.nextTick(() => {
          duplex.emit('connect');
          duplex.emit('ready');
        });
        return self();
      },
    };
  }

  /**
   * A Node `Duplex` over this socket, for `node:tls`, database drivers and
   * `node:repl`. Its reads and writes run in two greenlets of its own (named
   * `'node stream read'` and `'node stream write'`), so a kill or `Timeout`
   * aimed at whichever greenlet uses the Duplex never interrupts the stream.
   * The read greenlet reads only when Node asks for more (backpressure); the
   * write greenlet writes queued chunks in order and calls each write's
   * callback once the socket took it. Destroying the Duplex closes the
   * socket; closing the socket ends both greenlets, ends the readable side
   * (`'end'`) and fails later writes with `ERR_SOCKET_CLOSED` (or, unless
   * half-open, Node's `ERR_STREAM_WRITE_AFTER_END`, the writable side having
   * ended with the readable one).
   *
   *
   * Like a `net.Socket` it is not half-open by default: when the peer ends,
   * the Duplex ends its writable side too and emits `'close'` (database
   * drivers learn that the server left from `'close'`); pass
   * `allowHalfOpen: true` to keep writing after the peer's end. It also has
   * the `net.Socket` members drivers call on a socket they were handed:
   * `setNoDelay()`, `setKeepAlive()` (passed to this socket), `setTimeout()`,
   * `ref()`, `unref()` (no-ops), `connect()` (already connected: emits
   * `'connect'` and `'ready'` on the next tick), and the address properties.
   *
   * @param opts.allowHalfOpen keep the writable side open after the peer's end (default false).
   * @returns a new Duplex; use one adapter at a time (each reads the socket).
   * @example
   * const tlsSocket = tls.connect({ socket: sock.toNodeStream(), servername: 'example.com' });
   * const client = new pg.Client({ stream: sock.toNodeStream() });
   */
  toNodeStream(opts?: { allowHalfOpen?: boolean }): Duplex {
    type Job =
      | { chunk: Uint8Array; cb: (err?: Error | null) => void }
      | { end: (err?: Error | null) => void };
    const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
    let done = false;
    let wanted = false;
    let readWake: Waiter<void> | undefined;
    let writeWake: Waiter<void> | undefined;
    const jobs: Job[] = [];
    const finish = (): void => {
      done = true;
      readWake?.switch();
      writeWake?.switch();
    };
    const duplex: Duplex = new Duplex({
      allowHalfOpen: opts?.allowHalfOpen ?? false,
      read: () => {
        wanted = true;
        readWake?.switch();
      },
      write: (chunk: Uint8Array, _encoding, cb) => {
        if (done) return cb(socketClosedError('write'));
        jobs.push({ chunk, cb });
        writeWake?.switch();
      },
      final: (cb) => {
        if (done) return cb();
        jobs.push({ end: cb });
        writeWake?.switch();
      },
      destroy: (err, cb) => {
        this.close();
        finish();
        cb(err);
      },
    });
    void this.closed.then(finish);
    const reader = spawn(async () => {
      try {
        while (!done) {
          if (!wanted) {
            readWake = new Waiter<void>('node stream read');
            try {
              await readWake.get();
            } finally {
              readWake = undefined;
            }
            continue;
          }
          wanted = false;
          const chunk = await this.read();
          if (done && chunk !== null) return;
          duplex.push(chunk);
          if (chunk === null) return;
        }
      } catch (err) {
        if (this.#isClosed) duplex.push(null);
        else duplex.destroy(asError(err));
      }
    });
    reader.name = 'node stream read';
    const writer = spawn(async () => {
      let job: Job | undefined;
      try {
        while (!done) {
          job = jobs.shift();
          if (job === undefined) {
            writeWake = new Waiter<void>('node stream write');
            try {
              await writeWake.get();
            } finally {
              writeWake = undefined;
            }
            continue;
          }
          if ('end' in job) {
            await this.end();
            job.end();
            return;
          }
          await this.write(job.chunk);
          job.cb();
          job = undefined;
        }
      } catch (err) {
        const cb = job === undefined ? undefined : 'end' in job ? job.end : job.cb;
        cb?.(asError(err));
      } finally {
        // Whatever is still queued fails: the write greenlet is gone.
        for (const left of jobs.splice(0)) {
          if ('end' in left) left.end();
          else left.cb(socketClosedError('write'));
        }
      }
    });
    writer.name = 'node stream write';
    return Object.assign(duplex, this.#socketLike(duplex));
  }
}

const NEWLINE = new Uint8Array([0x0a]);
