// One WebSocket connection (RFC 6455), for both ends: the server's, made by
// upgradeWebSocket(), and the client's, made by connectWebSocket(). Frames
// are read by one greenlet — the HTTP connection's on a server, a greenlet of
// its own on a client — that answers pings and close frames at once and
// queues messages for receive(), so a peer is served even while the
// application is busy elsewhere (a broadcast-only server still sees its
// clients leave).

import { codedError, type Greenlet, getcurrent, reportError, Waiter } from '@greenhub/core';
import { type CodedError, ConcurrentUse } from '../errors.js';
import { errorCode } from '../internal/server-spawn.js';
import type { Socket } from '../socket.js';
import {
  closePayload,
  encodeFrame,
  isValidCloseCode,
  OP_BINARY,
  OP_CLOSE,
  OP_PING,
  OP_PONG,
  OP_TEXT,
} from './frame.js';
import { FrameParser, type WebSocketMessage } from './frame-parser.js';
import { FrameWriter } from './frame-writer.js';

export type { WebSocketMessage } from './frame-parser.js';

/** Options shared by both ends. */
export interface WebSocketOptions {
  /** Largest message accepted, all fragments together; larger → close 1009. Default 64 MiB. */
  maxMessageBytes?: number;
  /** Ping every `interval` ms; a peer that does not answer within `timeout` ms is dropped (close code 1006). */
  heartbeat?: { interval: number; timeout: number };
  /** Longest wait (ms) for the peer's close frame after ours, before the socket is closed. Default 5000. */
  closeTimeout?: number;
}

/** How a connection ended, as a browser's CloseEvent tells it. */
export interface WebSocketCloseInfo {
  /** The code of the peer's close frame; 1005 if it had none; 1006 if none came (connection dropped). */
  code: number;
  /** The reason of the peer's close frame. */
  reason: string;
  /** Both close frames were exchanged. */
  wasClean: boolean;
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

const EMPTY = Buffer.alloc(0);
/** Codes of a connection that broke under the reader: it just ends (1006). */
const BROKEN = new Set(['ERR_SOCKET_CLOSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED']);
const RESOLVED = Promise.resolve();
const DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024;
/** The reader stops reading while this much (messages or bytes) waits for receive(). */
const QUEUE_MESSAGES = 1024;
const QUEUE_BYTES = 1024 * 1024;

/** What an iteration step gets at the end. */
const DONE: IteratorReturnResult<void> = { value: undefined, done: true };

/**
 * The wait of `receive()` (woken with a message, or null at the end) or of an
 * iteration step (`iterating`: woken with the step's result): woken straight
 * with what the caller gets, so no `then()` runs per message. Every other
 * ending goes through `throw()` (see Waiter), which calls `onThrow` with the
 * greenlet that waited.
 */
class ReceiveWaiter extends Waiter<unknown> {
  constructor(
    readonly iterating: boolean,
    private readonly onThrow: (waiter: ReceiveWaiter, owner: Greenlet<unknown> | undefined) => void,
  ) {
    super('websocket receive');
  }

  /** Wake with `message` (null: the connection is over), as this wait returns it. */
  give(message: WebSocketMessage | null): boolean {
    if (!this.iterating) return this.switch(message);
    return this.switch(message === null ? DONE : { value: message, done: false });
  }

  override throw(error: unknown): boolean {
    const owner = this.owner;
    if (!super.throw(error)) return false;
    this.onThrow(this, owner);
    return true;
  }
}

function closedError(): CodedError {
  return codedError(new Error('the WebSocket is closed'), 'ERR_WEBSOCKET_CLOSED');
}

/**
 * A WebSocket connection, the same class on the server and the client side.
 * Messages are read in the background and taken with {@link WebSocket.receive}
 * or `for await`; {@link WebSocket.send} waits while the socket is backed up.
 *
 * @example
 * const ws = await connectWebSocket('ws://127.0.0.1:8080/chat');
 * await ws.send('hello');
 * console.log(await ws.receive({ timeout: 1000 }));
 * await ws.close();
 */
export class WebSocket implements AsyncIterable<WebSocketMessage>, AsyncDisposable {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;

  /** The URL of the connection (the request's on a server). */
  readonly url: string;
  /** Resolves once the connection is closed, with the peer's close code and reason; never rejects. */
  readonly closed: Promise<WebSocketCloseInfo>;

  readonly #client: boolean;
  readonly #closeTimeout: number;
  readonly #heartbeat: { interval: number; timeout: number } | undefined;
  #protocol: string;
  #sock: Socket | undefined;
  #state = CONNECTING;
  #resolveClosed!: (info: WebSocketCloseInfo) => void;

  readonly #parser: FrameParser;

  // Messages waiting for receive().
  #queue: WebSocketMessage[] = [];
  #queueHead = 0;
  #queuedBytes = 0;
  #receiver: ReceiveWaiter | undefined;
  #room: Waiter<void> | undefined;
  #openWaiters: Waiter<void>[] = [];
  #closeWaiters: Waiter<void>[] = [];

  #writer: FrameWriter | undefined;

  #closeSent = false;
  #closeReceived: { code: number; reason: string } | undefined;
  /** performance.now() by which the peer's close frame must come after ours (reader side). */
  #closeDeadline = 0;
  #nextPing = 0;
  #pingSentAt = 0;

  /** @internal Use upgradeWebSocket() or connectWebSocket(). */
  constructor(role: 'server' | 'client', url: string, protocol: string, opts: WebSocketOptions = {}) {
    this.#client = role === 'client';
    this.url = url;
    this.#protocol = protocol;
    const max = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE;
    const closeTimeout = opts.closeTimeout ?? 5000;
    const hb = opts.heartbeat;
    for (const [name, value] of [
      ['maxMessageBytes', max],
      ['closeTimeout', closeTimeout],
      ['heartbeat.interval', hb?.interval ?? 1],
      ['heartbeat.timeout', hb?.timeout ?? 1],
    ] as const) {
      if (!(typeof value === 'number' && value > 0)) {
        throw codedError(new RangeError(`${name} must be a number > 0, got ${value}`), 'ERR_OUT_OF_RANGE');
      }
    }
    this.#parser = new FrameParser(!this.#client, max);
    this.#closeTimeout = closeTimeout;
    this.#heartbeat = hb;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  /** The subprotocol agreed on in the handshake ('' for none). */
  get protocol(): string {
    return this.#protocol;
  }

  /** @internal The client learns the subprotocol from the server's 101. */
  _setProtocol(protocol: string): void {
    this.#protocol = protocol;
  }

  /** `WebSocket.CONNECTING` (0, the server's 101 not sent yet), `OPEN` (1), `CLOSING` (2), `CLOSED` (3). */
  get readyState(): number {
    return this.#state;
  }

  // ---- the reader ------------------------------------------------------------------------------------

  /**
   * @internal Run the connection on `sock` until it ends, in the calling
   * greenlet, which becomes its reader; `buffered` are bytes already read
   * past the handshake. Closes the socket before returning. A kill of the
   * greenlet sends a close frame (1001) and is thrown on.
   */
  _run(sock: Socket, buffered: Uint8Array): Promise<void> {
    this._attach(sock, buffered);
    return this._read();
  }

  /** @internal The handshake is done: the connection is open on `sock`. */
  _attach(sock: Socket, buffered: Uint8Array): void {
    this.#sock = sock;
    sock.setNoDelay(true); // messages are small and latency matters, as for ws and browsers
    this.#writer = new FrameWriter(sock);
    if (buffered.length > 0) this.#parser.push(buffered);
    const pendingClose = this.#state === CLOSING;
    this.#state = pendingClose ? CLOSING : OPEN;
    for (const w of this.#openWaiters.splice(0)) w.switch();
    if (pendingClose) this.#writer!.sendNow(encodeFrame(OP_CLOSE, closePayload(1000, ''), this.#client));
    if (this.#heartbeat) this.#nextPing = performance.now() + this.#heartbeat.interval;
  }

  /** @internal The reader: runs in the greenlet that owns the connection until it is over. */
  async _read(): Promise<void> {
    const sock = this.#sock!;
    let killed: unknown;
    try {
      sock._setReadHook(this.#readNow);
      await this.#readLoop(sock);
      if (this.#closeReceived !== undefined) await this.#flushAndEnd(sock);
    } catch (err) {
      if (getcurrent().signal.aborted) {
        this.#goingAway();
        killed = err;
      } else if (!BROKEN.has(errorCode(err) ?? '')) {
        reportError(err, `${getcurrent().name} websocket reader`);
      }
      // Either way the connection ends without the peer's close: 1006.
    } finally {
      sock._setReadHook(undefined);
      sock.close();
      this.#finalize();
    }
    if (killed !== undefined) throw killed;
  }

  /**
   * The socket's read hook: while the connection is plainly open, frames are
   * handled in the hub's read callback as they arrive, and the reader greenlet
   * sleeps on (no wake-up per message). Anything else — a close, a protocol
   * error, a full queue — is left to the reader (false wakes it).
   */
  readonly #readNow = (): boolean => {
    if (!this.#plainlyOpen()) return false;
    try {
      const chunk = this.#sock!._takeBuffered();
      if (chunk === null || chunk === undefined) return false;
      this.#parser.push(chunk);
      return !this.#handleFrames() && this.#plainlyOpen();
    } catch (err) {
      reportError(err, 'websocket read');
      return false;
    }
  };

  /** Open, no close under way, room in the receive queue: nothing for the reader greenlet to do. */
  #plainlyOpen(): boolean {
    return this.#state === OPEN && this.#closeDeadline === 0 && !this.#queueFull();
  }

  /** Read and handle frames until the close handshake is done, the peer leaves or a deadline passes. */
  async #readLoop(sock: Socket): Promise<void> {
    for (;;) {
      if (this.#handleFrames()) return;
      if (this.#queueFull() && this.#state === OPEN) {
        const room = new Waiter<void>('websocket receive queue');
        this.#room = room;
        await room.get();
        continue;
      }
      const wait = this.#nextWait();
      if (wait !== undefined && wait <= 0) {
        if (this.#tick()) return;
        continue;
      }
      try {
        await sock._waitReadable(wait);
      } catch (err) {
        if (wait !== undefined && errorCode(err) === 'ETIMEDOUT') {
          if (this.#tick()) return;
          continue;
        }
        throw err;
      }
      const chunk = sock._takeBuffered();
      if (chunk === null) return; // the peer left
      if (chunk !== undefined) this.#parser.push(chunk);
    }
  }

  /** Ms until the next deadline of the reader (heartbeat, closing), or undefined for none. */
  #nextWait(): number | undefined {
    let at = Number.POSITIVE_INFINITY;
    if (this.#closeDeadline > 0) at = this.#closeDeadline;
    const hb = this.#heartbeat;
    if (hb !== undefined && this.#state === OPEN) {
      at = Math.min(at, this.#pingSentAt > 0 ? this.#pingSentAt + hb.timeout : this.#nextPing);
    }
    return at === Number.POSITIVE_INFINITY ? undefined : Math.ceil(at - performance.now());
  }

  /** A reader deadline passed: ping, or give up on a silent peer. True when the connection is over. */
  #tick(): boolean {
    const now = performance.now();
    if (this.#closeDeadline > 0 && now >= this.#closeDeadline) return true;
    const hb = this.#heartbeat;
    if (hb === undefined || this.#state !== OPEN) return false;
    if (this.#pingSentAt > 0) return now >= this.#pingSentAt + hb.timeout;
    if (now >= this.#nextPing) {
      this.#pingSentAt = now;
      this.#writer!.sendNow(encodeFrame(OP_PING, EMPTY, this.#client));
    }
    return false;
  }

  /** Handle every complete frame buffered; true once the close handshake is done. */
  #handleFrames(): boolean {
    for (;;) {
      if (this.#closeReceived !== undefined) return true;
      const parsed = this.#parser.next();
      if (parsed === undefined) return false;
      switch (parsed.type) {
        case 'message':
          this.#deliver(parsed.data);
          break;
        case 'ping':
          if (!this.#closeSent) this.#writer!.sendNow(encodeFrame(OP_PONG, parsed.payload, this.#client));
          break;
        case 'pong':
          this.#pingSentAt = 0;
          if (this.#heartbeat) this.#nextPing = performance.now() + this.#heartbeat.interval;
          break;
        case 'close':
          this.#closeReceived = { code: parsed.code, reason: parsed.reason };
          if (!this.#closeSent) {
            this.#closeSent = true;
            this.#writer!.sendNow(encodeFrame(OP_CLOSE, closePayload(parsed.code, ''), this.#client));
          }
          this.#state = CLOSING;
          break;
        case 'error':
          this.#fail(parsed.code, parsed.reason);
          break;
      }
    }
  }

  /** Fail the connection (RFC 6455 §7.1.7): our close frame with `code`, then wait a little for the peer's. */
  #fail(code: number, reason: string): void {
    this.#parser.reset();
    if (!this.#closeSent) {
      this.#closeSent = true;
      this.#writer!.sendNow(encodeFrame(OP_CLOSE, closePayload(code, reason), this.#client));
    }
    this.#state = CLOSING;
    // The peer's close is awaited briefly; whatever else it sends meanwhile is dropped.
    this.#closeDeadline = performance.now() + Math.min(this.#closeTimeout, 1000);
    this.#ignoreRest = true;
  }

  #ignoreRest = false;

  #queueFull(): boolean {
    return this.#queue.length - this.#queueHead >= QUEUE_MESSAGES || this.#queuedBytes >= QUEUE_BYTES;
  }

  #deliver(message: WebSocketMessage): void {
    if (this.#ignoreRest) return;
    const receiver = this.#receiver;
    if (receiver !== undefined) {
      this.#receiver = undefined;
      if (receiver.give(message)) return;
    }
    if (this.#state !== OPEN && this.#queueFull()) return; // closing: not worth waiting for
    this.#queue.push(message);
    this.#queuedBytes += message.length; // chars for text: a bound, not an exact count
  }

  /** Hand queued bytes to the kernel and half-close, bounded, so our last close frame is not lost. */
  async #flushAndEnd(sock: Socket): Promise<void> {
    if (this.#writer!.busy) return;
    const waiter = new Waiter<void>('websocket close');
    sock.end().then(
      () => waiter.switch(),
      () => waiter.switch(),
    );
    await waiter.get({ timeout: this.#closeTimeout, timeoutValue: undefined });
  }

  /** The connection is over: settle everything that waits on it. */
  #finalize(): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    this.#closeDeadline = 0;
    const received = this.#closeReceived;
    this.#resolveClosed({
      code: received?.code ?? 1006,
      reason: received?.reason ?? '',
      wasClean: received !== undefined && this.#closeSent,
    });
    const receiver = this.#receiver;
    this.#receiver = undefined;
    receiver?.give(null);
    this.#room?.switch();
    this.#writer?.close(closedError);
    for (const w of this.#closeWaiters.splice(0)) w.switch();
    for (const w of this.#openWaiters.splice(0)) w.switch();
  }

  /** @internal The server never switched protocols: this WebSocket will never open. */
  _abandon(): void {
    if (this.#state === CONNECTING || (this.#state === CLOSING && this.#sock === undefined)) this.#finalize();
  }

  /** Killed while using the connection: a close frame (1001) if possible, then the socket. */
  #goingAway(): void {
    if (this.#state === CLOSED) return;
    if (!this.#closeSent && this.#sock !== undefined) {
      this.#closeSent = true;
      this.#writer!.sendNow(encodeFrame(OP_CLOSE, closePayload(1001, 'going away'), this.#client));
    }
    if (this.#sock !== undefined) this.#sock.close();
    else this.#finalize();
  }

  // ---- writing ---------------------------------------------------------------------------------------

  /** Wait (bounded by nothing but the handshake) until the server switched protocols. */
  async #whenOpen(opts?: { timeout?: number; signal?: AbortSignal }): Promise<void> {
    if (this.#state !== CONNECTING) return;
    const waiter = new Waiter<void>('websocket open');
    this.#openWaiters.push(waiter);
    try {
      await waiter.get(opts);
    } finally {
      const at = this.#openWaiters.indexOf(waiter);
      if (at >= 0) this.#openWaiters.splice(at, 1);
    }
  }

  /** A greenlet using the connection was killed: close it (1001), then let the kill go on. */
  #onError(err: unknown): never {
    if (getcurrent().signal.aborted) this.#goingAway();
    throw err;
  }

  /**
   * Send a message: a string as a text message, bytes as a binary one.
   *
   * @returns once the frame is queued below the socket's high-water mark
   *   (backpressure: it waits while the peer does not read).
   * @throws `ERR_WEBSOCKET_CLOSED` once closing or closed; `ERR_INVALID_ARG_TYPE`.
   *   A kill while waiting closes the connection (close code 1001).
   * @example
   * await ws.send(JSON.stringify({ hello: 'world' }));
   */
  send(data: string | Uint8Array): Promise<void> {
    let op: number;
    if (typeof data === 'string') op = OP_TEXT;
    else if (data instanceof Uint8Array) op = OP_BINARY;
    else {
      return Promise.reject(
        codedError(new TypeError('send() takes a string or a Uint8Array'), 'ERR_INVALID_ARG_TYPE'),
      );
    }
    if (this.#state !== OPEN) {
      if (this.#state === CONNECTING) return this.#sendWhenOpen(op, data);
      return Promise.reject(closedError());
    }
    const sending = this.#writer!.write(encodeFrame(op, data, this.#client));
    if (sending === undefined) return RESOLVED;
    return sending.catch((err) => this.#onError(err));
  }

  async #sendWhenOpen(op: number, data: string | Uint8Array): Promise<void> {
    try {
      await this.#whenOpen();
    } catch (err) {
      this.#onError(err);
    }
    if (this.#state !== OPEN) throw closedError();
    return this.send(op === OP_TEXT ? (data as string) : (data as Uint8Array));
  }

  /**
   * Send a ping (the peer answers with a pong; pings from the peer are answered automatically).
   *
   * @param data at most 125 bytes (a string is sent as UTF-8).
   * @throws `ERR_WEBSOCKET_CLOSED`; `ERR_OUT_OF_RANGE` for more than 125 bytes.
   * @example
   * await ws.ping();
   */
  async ping(data: string | Uint8Array = EMPTY): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    if (bytes.length > 125) {
      throw codedError(new RangeError('a ping carries at most 125 bytes'), 'ERR_OUT_OF_RANGE');
    }
    if (this.#state === CONNECTING) await this.#whenOpen().catch((err) => this.#onError(err));
    if (this.#state !== OPEN) throw closedError();
    await this.#writer!.write(encodeFrame(OP_PING, bytes, this.#client))?.catch((err) => this.#onError(err));
  }

  // ---- receiving -------------------------------------------------------------------------------------

  /**
   * The next message: a string (text) or a Uint8Array (binary); null once the
   * connection is closed and every message received before was taken.
   *
   * @param opts `timeout` (ms) → `Timeout` (`ETIMEDOUT`), the connection stays open; `signal` aborts.
   * @throws `ERR_CONCURRENT_USE` when another greenlet is receiving. A kill
   *   while waiting closes the connection (close code 1001).
   * @example
   * for (let msg = await ws.receive(); msg !== null; msg = await ws.receive()) await ws.send(msg);
   */
  receive(opts?: { timeout?: number; signal?: AbortSignal }): Promise<WebSocketMessage | null> {
    if (this.#queueHead < this.#queue.length) return Promise.resolve(this.#take());
    if (this.#state === CLOSED) return Promise.resolve(null);
    return this.#waitMessage(opts, false) as Promise<WebSocketMessage | null>;
  }

  /** Wait for the next message (the queue is empty): see ReceiveWaiter. */
  #waitMessage(
    opts: { timeout?: number; signal?: AbortSignal } | undefined,
    iterating: boolean,
  ): Promise<unknown> {
    if (this.#receiver !== undefined) {
      return Promise.reject(new ConcurrentUse('another greenlet is already receiving on this WebSocket'));
    }
    const waiter = new ReceiveWaiter(iterating, this.#receiveFailed);
    this.#receiver = waiter;
    return waiter.get(opts);
  }

  /** A wait in receive() ended without a message; a kill of the receiving greenlet closes with 1001. */
  readonly #receiveFailed = (waiter: ReceiveWaiter, owner: Greenlet<unknown> | undefined): void => {
    if (this.#receiver === waiter) this.#receiver = undefined;
    if (owner?.signal.aborted) this.#goingAway();
  };

  #take(): WebSocketMessage {
    const message = this.#queue[this.#queueHead]!;
    this.#queue[this.#queueHead++] = EMPTY;
    this.#queuedBytes -= message.length;
    if (this.#queueHead === this.#queue.length) {
      this.#queue = [];
      this.#queueHead = 0;
      this.#queuedBytes = 0;
    }
    const room = this.#room;
    if (room !== undefined && !this.#queueFull()) {
      this.#room = undefined;
      room.switch();
    }
    return message;
  }

  /** Messages until the connection closes (breaking out leaves it open). */
  [Symbol.asyncIterator](): AsyncIterableIterator<WebSocketMessage, void> {
    // Not a generator: a message already queued costs one resolved promise, a wait no more.
    const iterator: AsyncIterableIterator<WebSocketMessage, void> = {
      next: (): Promise<IteratorResult<WebSocketMessage, void>> => {
        if (this.#queueHead < this.#queue.length)
          return Promise.resolve({ value: this.#take(), done: false });
        if (this.#state === CLOSED) return Promise.resolve(DONE);
        return this.#waitMessage(undefined, true) as Promise<IteratorResult<WebSocketMessage, void>>;
      },
      return: () => Promise.resolve(DONE),
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  // ---- closing ---------------------------------------------------------------------------------------

  /**
   * Close with the close handshake: send a close frame, wait (at most
   * `closeTimeout`) for the peer's, then close the socket. Harmless when
   * already closing or closed.
   *
   * @param code 1000 (default), 1001-1003, 1007-1014 or 3000-4999.
   * @param reason at most 123 bytes of UTF-8.
   * @returns once the connection is closed (`closed` has its outcome).
   * @throws `ERR_OUT_OF_RANGE` for an invalid code or a long reason.
   * @example
   * await ws.close(1000, 'bye');
   */
  async close(code = 1000, reason = ''): Promise<void> {
    if (!isValidCloseCode(code)) {
      throw codedError(new RangeError(`invalid close code ${code}`), 'ERR_OUT_OF_RANGE');
    }
    if (Buffer.byteLength(reason) > 123) {
      throw codedError(new RangeError('a close reason holds at most 123 bytes'), 'ERR_OUT_OF_RANGE');
    }
    if (this.#state === CLOSED) return;
    if (!this.#closeSent) {
      this.#closeSent = true;
      if (this.#sock !== undefined) {
        this.#writer!.sendNow(encodeFrame(OP_CLOSE, closePayload(code, reason), this.#client));
      } // else sent by _run() once the server switched protocols
      this.#state = CLOSING;
      const room = this.#room;
      this.#room = undefined;
      room?.switch();
    }
    const waiter = new Waiter<void>('websocket close');
    this.#closeWaiters.push(waiter);
    try {
      const done = await waiter.get({ timeout: this.#closeTimeout, timeoutValue: false });
      if (done === false) {
        if (this.#sock !== undefined) this.#sock.close();
        else this.#finalize();
      }
    } catch (err) {
      this.#onError(err);
    } finally {
      const at = this.#closeWaiters.indexOf(waiter);
      if (at >= 0) this.#closeWaiters.splice(at, 1);
    }
  }

  /** Close without the handshake: drop the connection at once (the peer sees it end, code 1006). */
  terminate(): void {
    if (this.#sock !== undefined) this.#sock.close();
    else this.#finalize();
  }

  /** `close()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  get [Symbol.toStringTag](): string {
    return 'WebSocket';
  }
}
