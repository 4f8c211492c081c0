// One HTTP/1.1 connection, served by its handler greenlet: read a head, call
// the fetch handler, write its Response, repeat while keep-alive holds.
// Requests on a connection are handled one after the other, so pipelined
// requests are answered in order.

import { type Greenlet, getcurrent, reportError, type SocketAddress } from '@greenhub/core';
import { errorCode } from '../internal/server-spawn.js';
import { onPeerEnd, type Socket } from '../socket.js';
import { BAD_VALUE_CHAR, HttpError, headEnd, parseHead, type RequestHead, TOKEN } from './parse.js';
import { type BodySource, IncomingRequest } from './request.js';
import { fastParts, platformSource } from './response.js';
import { UPGRADE, UpgradeRefusal, type UpgradeSlot } from './upgrade.js';

/** @internal Limits and switches of a server, resolved. */
export interface HttpSettings {
  maxHeaderBytes: number;
  maxBodyBytes: number;
  headersTimeout: number;
  keepAliveTimeout: number;
  log: ((line: string) => void) | undefined;
  scheme: 'http' | 'https';
}

/** What the fetch handler gets besides the request. */
export interface ServeInfo {
  /** The client's address. */
  remoteAddress: SocketAddress;
}

/** A fetch-style handler: a WHATWG Request in, a Response (or a promise of one) out. */
export type FetchHandler = (request: Request, info: ServeInfo) => Response | Promise<Response>;

/** The status logged for a request whose client left before its response (nginx's 499). */
const CLIENT_GONE = 499;

/** Unread body bytes drained after a response so the connection can be kept; more closes it. */
const DRAIN_LIMIT = 256 * 1024;
const EMPTY = Buffer.alloc(0);
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
// What a header value must not hold on the wire: CR, LF, NUL (splitting) and chars beyond latin1.
const BAD_OUT_VALUE = /[\r\n\0]|[^\0-\xff]/;
const SIMPLE_TARGET = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$/;
// A Host the URL parser would keep as is (so the URL can be built by concatenation): lower-case
// labels, the last one starting with a letter (else it is an IPv4 number to parse: `a.1`, `0x7f.1`),
// no punycode (`xn--`), or a canonical dotted quad; a port 1-65535 without leading zeros.
const SIMPLE_HOST =
  /^(?:(?!(?:.*\.)?xn--)(?:[a-z0-9-]+\.)*[a-z][a-z0-9-]*|(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]))(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?$/;
const VALID_HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?$/;

const STATUS_TEXT: Record<number, string> = {
  100: 'Continue',
  101: 'Switching Protocols',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  203: 'Non-Authoritative Information',
  204: 'No Content',
  205: 'Reset Content',
  206: 'Partial Content',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  422: 'Unprocessable Content',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

const STATUS_LINES = new Map<number, string>();
/** `HTTP/1.1 200 OK\r\n` and the like, made once per status. */
function statusLine(status: number): string {
  let line = STATUS_LINES.get(status);
  if (line === undefined) {
    line = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? ''}\r\n`;
    STATUS_LINES.set(status, line);
  }
  return line;
}

// The Date header, formatted at most once a second.
let dateSecond = 0;
let dateValue = '';
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateValue = new Date(now).toUTCString();
  }
  return dateValue;
}

/** A response the handler produced that cannot be sent as is (a 500 goes out instead). */
function badResponse(message: string): Error {
  return Object.assign(new TypeError(message), { code: 'ERR_HTTP_INVALID_RESPONSE' });
}

/** @internal The body of the request being handled, read from the connection. */
class RequestBody implements BodySource {
  readonly #conn: Connection;
  /** Bytes left of a Content-Length body; -1 while in a chunked body. */
  #left: number;
  /** Bytes left of the current chunk (chunked). */
  #chunkLeft = 0;
  #received = 0;
  #done = false;
  error: unknown;

  constructor(conn: Connection, length: number) {
    this.#conn = conn;
    this.#left = length;
    if (length === 0) this.#done = true;
  }

  get done(): boolean {
    return this.#done;
  }

  async read(): Promise<Uint8Array | null> {
    if (this.error !== undefined) throw this.error;
    if (this.#done) return null;
    try {
      await this.#conn.sendContinue();
      return this.#left >= 0 ? await this.#readLength() : await this.#readChunked();
    } catch (err) {
      this.error = err;
      throw err;
    }
  }

  async #readLength(): Promise<Uint8Array> {
    const piece = await this.#conn.takeUpTo(this.#left);
    this.#left -= piece.length;
    if (this.#left === 0) this.#done = true;
    return piece;
  }

  async #readChunked(): Promise<Uint8Array | null> {
    const conn = this.#conn;
    if (this.#chunkLeft === 0) {
      const line = await conn.readLine('chunk size line');
      const size = parseChunkSize(line);
      if (size === 0) {
        await this.#readTrailers();
        this.#done = true;
        return null;
      }
      if (this.#received + size > conn.settings.maxBodyBytes) throw tooLarge(conn.settings.maxBodyBytes);
      this.#chunkLeft = size;
    }
    const piece = await conn.takeUpTo(this.#chunkLeft);
    this.#chunkLeft -= piece.length;
    this.#received += piece.length;
    if (this.#chunkLeft === 0) {
      const end = await conn.readLine('chunk data end');
      if (end !== '') throw new HttpError(400, 'ERR_HTTP_BAD_REQUEST', 'chunk data longer than its size');
    }
    return piece;
  }

  async #readTrailers(): Promise<void> {
    let total = 0;
    for (;;) {
      const line = await this.#conn.readLine('trailer');
      if (line === '') return;
      total += line.length + 2;
      if (total > this.#conn.settings.maxHeaderBytes) {
        throw new HttpError(431, 'ERR_HTTP_HEADER_TOO_LARGE', 'trailer section over maxHeaderBytes');
      }
      const colon = line.indexOf(':');
      if (colon <= 0 || !TOKEN.test(line.slice(0, colon)) || BAD_VALUE_CHAR.test(line.slice(colon + 1))) {
        throw new HttpError(400, 'ERR_HTTP_BAD_REQUEST', 'malformed trailer field');
      }
    }
  }

  /** Read and drop what is left of the body, up to `limit` bytes; false if more was left. */
  async drain(limit: number): Promise<boolean> {
    let dropped = 0;
    while (!this.#done) {
      const piece = await this.read();
      if (piece === null) break;
      dropped += piece.length;
      if (dropped > limit) return false;
    }
    return true;
  }

  /** Whether the body is known to be longer than `limit` unread bytes. */
  longerThan(limit: number): boolean {
    return this.#left > limit;
  }
}

function tooLarge(max: number): HttpError {
  return new HttpError(413, 'ERR_HTTP_CONTENT_TOO_LARGE', `request body over maxBodyBytes (${max})`);
}

/** chunk-size [ chunk-ext ]: 1 to 15 hex digits, then optional `;ext[=value]` parts. */
function parseChunkSize(line: string): number {
  const m =
    /^([0-9A-Fa-f]{1,15})((?:[ \t]*;[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:[ \t]*=[ \t]*(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"))?)*)$/.exec(
      line,
    );
  if (m === null) throw new HttpError(400, 'ERR_HTTP_BAD_REQUEST', 'malformed chunk size line');
  return Number.parseInt(m[1]!, 16);
}

/** @internal One connection being served. */
export class Connection {
  readonly settings: HttpSettings;
  readonly #sock: Socket;
  readonly #fetch: FetchHandler;
  readonly #info: ServeInfo;
  #buf: Buffer = EMPTY;
  #peerEnded = false;
  #eof = false;
  /** True while a request is being handled (from its first byte to the end of its response). */
  busy = false;
  /** Set by a stopping server: finish the request in flight, then close. */
  draining = false;
  #continuePending = false;
  #controller: AbortController | undefined;
  /** Removes the request signal's link to the greenlet's (set while a request's signal exists). */
  #unlinkKill: (() => void) | undefined;
  /** The greenlet serving this connection. */
  #greenlet: Greenlet<unknown> | undefined;
  #aborted = false;
  /** The upgrade slot of the request being handled, when its head asked for an upgrade. */
  #upgrade: UpgradeSlot | undefined;

  constructor(sock: Socket, fetch: FetchHandler, settings: HttpSettings) {
    this.#sock = sock;
    this.#fetch = fetch;
    this.settings = settings;
    this.#info = { remoteAddress: sock.remoteAddress };
    sock[onPeerEnd] = () => {
      this.#peerEnded = true;
      if (this.busy) this.#abort();
    };
  }

  /** Close the socket if it is between requests (a stopping server's idle connections). */
  closeIfIdle(): void {
    if (!this.busy) this.#sock.close();
  }

  // ---- reading ---------------------------------------------------------------------------------------

  /** Move what the socket buffered into ours; false at end of stream with nothing new. */
  #pull(): boolean {
    const chunk = this.#sock._takeBuffered();
    if (chunk === undefined) return true;
    if (chunk === null) {
      this.#eof = true;
      return false;
    }
    const bytes = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.#buf = this.#buf.length === 0 ? bytes : Buffer.concat([this.#buf, bytes]);
    return true;
  }

  /** Whether bytes of a next request are already here. */
  #hasBuffered(): boolean {
    try {
      this.#pull();
    } catch {
      return false; // closed or reset: nothing more will be answered
    }
    return this.#buf.length > 0;
  }

  /** Wait up to `ms` for more bytes and take them; false at end of stream. Throws `Timeout` (ETIMEDOUT). */
  async #fill(ms: number): Promise<boolean> {
    if (this.#eof) return false;
    const before = this.#buf.length;
    await this.#sock._waitReadable(ms > 0 ? ms : 1);
    return this.#pull() && this.#buf.length > before;
  }

  /** Wait (a body read's wait) for more bytes; a request cut short is a 400. */
  async #fillBody(what: string): Promise<void> {
    let more: boolean;
    try {
      more = await this.#fill(this.settings.headersTimeout);
    } catch (err) {
      if (errorCode(err) === 'ETIMEDOUT') {
        throw new HttpError(
          408,
          'ERR_HTTP_REQUEST_TIMEOUT',
          `no request body bytes for ${this.settings.headersTimeout} ms`,
        );
      }
      throw err;
    }
    if (!more) {
      throw new HttpError(400, 'ERR_HTTP_BAD_REQUEST', `connection closed in the request body (${what})`);
    }
  }

  /** @internal Up to `n` (> 0) body bytes, waiting for at least one. */
  async takeUpTo(n: number): Promise<Uint8Array> {
    if (this.#buf.length === 0) this.#pull();
    if (this.#buf.length === 0) await this.#fillBody('data');
    const buf = this.#buf;
    if (buf.length <= n) {
      this.#buf = EMPTY;
      return buf;
    }
    this.#buf = buf.subarray(n);
    return buf.subarray(0, n);
  }

  /** @internal One CRLF-terminated line of a chunked body (at most 4 KiB), without its CRLF. */
  async readLine(what: string): Promise<string> {
    this.#pull();
    for (let scanned = 0; ; ) {
      const at = this.#buf.indexOf('\r\n', Math.max(0, scanned - 1), 'latin1');
      if (at >= 0) {
        const line = this.#buf.toString('latin1', 0, at);
        this.#buf = this.#buf.subarray(at + 2);
        if (line.includes('\n') || line.includes('\r')) {
          throw new HttpError(400, 'ERR_HTTP_BAD_REQUEST', `bare CR or LF in a ${what}`);
        }
        return line;
      }
      scanned = this.#buf.length;
      if (scanned > 4096) throw new HttpError(400, 'ERR_HTTP_BAD_REQUEST', `${what} too long`);
      await this.#fillBody(what);
    }
  }

  /** @internal Answer `Expect: 100-continue` the first time the handler reads the body. */
  async sendContinue(): Promise<void> {
    if (!this.#continuePending) return;
    this.#continuePending = false;
    await this.#sock.write(CONTINUE);
  }

  /**
   * A complete head already buffered (parsed and taken), or undefined.
   * @throws HttpError (400, 414, 431...) for a request to refuse.
   */
  #bufferedHead(): RequestHead | undefined {
    const buf = this.#buf;
    if (buf.length === 0) return undefined;
    const { maxHeaderBytes } = this.settings;
    // Only the first bytes can hold a head within the limits: never decode more than that.
    const text = buf.toString('latin1', 0, Math.min(buf.length, maxHeaderBytes + 8 * 1024 + 64));
    const end = headEnd(text, maxHeaderBytes);
    if (end < 0) return undefined;
    this.#buf = end === buf.length ? EMPTY : buf.subarray(end);
    return parseHead(text.length === end ? text : text.slice(0, end), maxHeaderBytes);
  }

  /**
   * Wait for the next request head: null when the client closed (or stayed
   * idle past keepAliveTimeout) between requests.
   * @throws HttpError (400, 408, 414, 431...) for a request to refuse.
   */
  async #readHead(first: boolean): Promise<RequestHead | null> {
    const { headersTimeout, keepAliveTimeout } = this.settings;
    let deadline = this.#buf.length > 0 ? Date.now() + headersTimeout : 0;
    for (;;) {
      let more: boolean;
      try {
        more = await this.#fill(
          deadline === 0 ? (first ? headersTimeout : keepAliveTimeout) : deadline - Date.now(),
        );
      } catch (err) {
        if (errorCode(err) !== 'ETIMEDOUT') throw err;
        if (this.#buf.length === 0) return null;
        throw new HttpError(
          408,
          'ERR_HTTP_REQUEST_TIMEOUT',
          `request head not complete within ${headersTimeout} ms`,
        );
      }
      if (!more) {
        if (this.#buf.length === 0) return null;
        throw new HttpError(400, 'ERR_HTTP_BAD_REQUEST', 'connection closed in the request head');
      }
      const head = this.#bufferedHead();
      if (head !== undefined) return head;
      if (deadline === 0) deadline = Date.now() + headersTimeout;
    }
  }

  // ---- serving ---------------------------------------------------------------------------------------

  /**
   * Serve requests until the connection closes, keep-alive ends or the server
   * stops. The common request — head already arrived, a handler answering
   * at once with a string or bytes — runs without a single await.
   */
  async serve(): Promise<void> {
    this.#greenlet = getcurrent();
    try {
      await this.#serveRequests();
    } finally {
      this.#endRequest();
    }
  }

  /** Forget the request that ended: its signal and the link from the greenlet's. */
  #endRequest(): void {
    this.#unlinkKill?.();
    this.#unlinkKill = undefined;
    this.#controller = undefined;
    this.#aborted = false;
    this.#upgrade?.abandon?.();
    this.#upgrade = undefined;
  }

  async #serveRequests(): Promise<void> {
    for (let first = true; ; first = false) {
      if (this.draining) return;
      let head: RequestHead | null | undefined;
      try {
        if (this.#pull()) head = this.#bufferedHead();
        else if (this.#buf.length === 0) return;
        if (head === undefined && this.#buf.length === 0 && !this.#eof) {
          // The usual wait between requests, inlined: one promise per request.
          await this.#sock._waitReadable(
            first ? this.settings.headersTimeout : this.settings.keepAliveTimeout,
          );
          if (this.#pull()) head = this.#bufferedHead();
        }
        head ??= await this.#readHead(first);
      } catch (err) {
        if (err instanceof HttpError) {
          await this.#refuse(err);
          return;
        }
        const code = errorCode(err);
        // Closed, reset, or idle past the keep-alive timeout: the connection just ends.
        if (code === 'ERR_SOCKET_CLOSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT') return;
        throw err;
      }
      if (head === null) return;
      this.busy = true;
      const started = this.settings.log ? performance.now() : 0;
      let result = this.#handle(head);
      if (result instanceof Promise) result = await result;
      this.busy = false;
      this.#endRequest();
      if (this.settings.log) this.#logLine(head, result.status, result.bytes, started);
      if (!result.keepAlive) {
        if (result.linger) await this.#lingeringClose();
        return;
      }
    }
  }

  #logLine(head: RequestHead, status: number, bytes: number | '-', started: number): void {
    const d = new Date();
    const pad = (n: number) => String(n).padStart(2, '0');
    const when = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    const secs = ((performance.now() - started) / 1000).toFixed(6);
    const who = this.#info.remoteAddress.address || '-';
    const line = `${who} - - [${when}] "${head.method} ${head.target} HTTP/1.${head.minor}" ${status} ${bytes} ${secs}`;
    try {
      this.settings.log!(line);
    } catch (err) {
      reportError(err, 'HttpServer log');
    }
  }

  /** Answer a request refused before any handler ran, then close. */
  async #refuse(err: HttpError): Promise<void> {
    const body = `${err.status} ${STATUS_TEXT[err.status] ?? ''}: ${err.message}\n`;
    const head =
      `HTTP/1.1 ${err.status} ${STATUS_TEXT[err.status] ?? ''}\r\ncontent-type: text/plain;charset=UTF-8\r\n` +
      (err instanceof UpgradeRefusal ? err.fields : '') +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\ndate: ${httpDate()}\r\n\r\n`;
    try {
      await this.#sock.write(head + body);
      await this.#lingeringClose();
    } catch {
      // The client is gone: nothing more to tell it.
    }
  }

  /** Half-close and drop what the client still sends for a moment, so our last response is not reset. */
  async #lingeringClose(): Promise<void> {
    try {
      await this.#sock.end();
      this.#buf = EMPTY;
      const until = Date.now() + 2000;
      let dropped = 0;
      while (dropped < DRAIN_LIMIT && Date.now() < until) {
        if (!(await this.#fill(until - Date.now()))) return;
        dropped += this.#buf.length;
        this.#buf = EMPTY;
      }
    } catch {
      // Timed out, reset or closed: done lingering.
    }
  }

  #abort(): void {
    this.#aborted = true;
    this.#controller?.abort();
  }

  #signal = (): AbortSignal => {
    if (this.#controller === undefined) {
      const controller = new AbortController();
      this.#controller = controller;
      if (this.#aborted) controller.abort();
      else {
        // Killing the connection's greenlet (stop() running out of time) aborts the request too, so a
        // handler waiting on something greenhub does not know (a plain promise) can still give up.
        const greenlet = this.#greenlet!.signal;
        if (greenlet.aborted) controller.abort(greenlet.reason);
        else {
          this.#unlinkKill = () => greenlet.removeEventListener('abort', onKill);
          const onKill = () => controller.abort(greenlet.reason);
          greenlet.addEventListener('abort', onKill, { once: true });
        }
      }
    }
    return this.#controller.signal;
  };

  /** Handle one request: call the handler, send its response, finish the body. Synchronous when it can be. */
  #handle(head: RequestHead): Outcome | Promise<Outcome> {
    const settings = this.settings;
    let url: string;
    try {
      url = requestUrl(settings.scheme, head, this.#sock);
      if (head.length > settings.maxBodyBytes) throw tooLarge(settings.maxBodyBytes);
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      return this.#refuse(err).then(() => refused(err));
    }
    const body = head.length === 0 ? null : new RequestBody(this, head.length);
    this.#continuePending = head.expectContinue && body !== null;
    this.#aborted = this.#peerEnded;
    const request = new IncomingRequest({
      method: head.method,
      url,
      raw: head.raw,
      body,
      signal: this.#signal,
    });
    if (head.upgrade !== '') {
      this.#upgrade = { minor: head.minor };
      (request as unknown as { [UPGRADE]: UpgradeSlot })[UPGRADE] = this.#upgrade;
    }
    let response: Response | Promise<Response>;
    try {
      response = this.#fetch(request as unknown as Request, this.#info);
    } catch (err) {
      return this.#failed(head, body, err);
    }
    if (response instanceof Response) return this.#finish(head, body, response);
    return this.#settle(head, body, response);
  }

  async #settle(head: RequestHead, body: RequestBody | null, pending: unknown): Promise<Outcome> {
    let response: unknown;
    try {
      response = await pending;
    } catch (err) {
      return this.#failed(head, body, err);
    }
    return this.#finish(head, body, response);
  }

  /** The handler threw (or its promise rejected). */
  async #failed(head: RequestHead, body: RequestBody | null, err: unknown): Promise<Outcome> {
    if (getcurrent().signal.aborted && !(err instanceof HttpError)) {
      this.#abort();
      throw err; // killed: the greenlet ends, the socket is closed by the server
    }
    if (
      err instanceof UpgradeRefusal ||
      (body?.error !== undefined && err === body.error && err instanceof HttpError)
    ) {
      await this.#refuse(err);
      return refused(err);
    }
    if (this.#aborted && (err === this.#controller?.signal.reason || (err as Error)?.name === 'AbortError')) {
      // The client left and the handler gave up through request.signal, as it should: nothing to report.
      return { status: CLIENT_GONE, bytes: '-', keepAlive: false, linger: false };
    }
    reportError(err, `${getcurrent().name} fetch handler`);
    return this.#finish(head, body, internalError());
  }

  /** Send the handler's response, then finish the request body. */
  #finish(head: RequestHead, body: RequestBody | null, response: unknown): Outcome | Promise<Outcome> {
    const upgrade = this.#upgrade;
    if (upgrade?.response !== undefined && response === upgrade.response) {
      this.#upgrade = undefined;
      return this.#switchProtocols(head, upgrade);
    }
    // A client that half-closed may still have pipelined requests buffered: answer those first.
    let keepAlive = head.keepAlive && !this.draining && (!this.#peerEnded || this.#hasBuffered());
    let linger = false;
    // A body the handler did not read: drain it after the response if small, else close.
    if (body !== null && !body.done) {
      if (this.#continuePending || body.error !== undefined || body.longerThan(DRAIN_LIMIT)) {
        keepAlive = false;
        linger = true;
      }
    }
    this.#continuePending = false;
    let out: Outgoing;
    try {
      if (!(response instanceof Response)) {
        throw badResponse(`the fetch handler must return a Response, got ${describe(response)}`);
      }
      out = outgoing(response);
    } catch (err) {
      reportError(err, `${getcurrent().name} fetch handler`);
      out = outgoing(internalError());
    }
    let sent: Outcome | Promise<Outcome>;
    try {
      try {
        sent = this.#send(head, out, keepAlive);
      } catch (err) {
        if (errorCode(err) !== 'ERR_HTTP_INVALID_RESPONSE') throw err;
        reportError(err, `${getcurrent().name} fetch handler`); // nothing was written yet
        sent = this.#send(head, outgoing(internalError()), keepAlive);
      }
    } catch (err) {
      return this.#sendFailed(err);
    }
    if (sent instanceof Promise || (body !== null && !body.done)) {
      return this.#finishAsync(sent, body, linger);
    }
    return sent;
  }

  async #finishAsync(
    sending: Outcome | Promise<Outcome>,
    body: RequestBody | null,
    linger: boolean,
  ): Promise<Outcome> {
    let outcome: Outcome;
    try {
      outcome = await sending;
    } catch (err) {
      return this.#sendFailed(err);
    }
    if (outcome.keepAlive && body !== null && !body.done) {
      try {
        if (!(await body.drain(DRAIN_LIMIT))) outcome.keepAlive = false;
      } catch {
        outcome.keepAlive = false;
      }
    }
    if (!outcome.keepAlive && linger) outcome.linger = true;
    return outcome;
  }

  /**
   * The handler accepted an upgrade: write the 101 and hand the socket, with
   * the bytes read past the head, to the new protocol, which runs in this
   * greenlet until it is over (the server then closes the socket).
   */
  async #switchProtocols(head: RequestHead, upgrade: UpgradeSlot): Promise<Outcome> {
    const fields = new Fields();
    try {
      for (const [name, value] of upgrade.response!.headers) if (name !== 'upgrade') fields.add(name, value);
    } catch (err) {
      upgrade.abandon?.();
      reportError(err, `${getcurrent().name} fetch handler`);
      return this.#send(head, outgoing(internalError()), false);
    }
    const text = `${statusLine(101)}upgrade: websocket\r\nconnection: Upgrade\r\n${fields.text}\r\n`;
    const buffered = this.#buf;
    this.#buf = EMPTY;
    this.#sock[onPeerEnd] = undefined; // the protocol sees the end of stream itself
    try {
      await this.#write(Buffer.from(text, 'latin1'));
    } catch (err) {
      upgrade.abandon?.();
      return this.#sendFailed(err);
    }
    await upgrade.take!(this.#sock, buffered);
    return { status: 101, bytes: '-', keepAlive: false, linger: false };
  }

  /** Sending the response failed: the client is gone (or the response broke off midway). */
  #sendFailed(err: unknown): Outcome {
    this.#abort();
    if (getcurrent().signal.aborted) throw err;
    const code = errorCode(err);
    if (code !== 'ERR_SOCKET_CLOSED' && code !== 'ECONNRESET' && code !== 'EPIPE') {
      reportError(err, `${getcurrent().name} response`);
    }
    return { status: 500, bytes: '-', keepAlive: false, linger: false };
  }

  /** Queue `bytes`; waits only when the socket's queue is above its high-water mark. */
  #write(bytes: Uint8Array): Promise<void> | undefined {
    if (this.#sock._send(bytes)) return undefined;
    return this.#sock.write(EMPTY);
  }

  /** Write the head and body of `out`; synchronous unless the body is a stream or the socket is backed up. */
  #send(head: RequestHead, out: Outgoing, keepAliveWanted: boolean): Outcome | Promise<Outcome> {
    const status = out.status;
    const isHead = head.method === 'HEAD';
    const noBody = isHead || status === 204 || status === 304 || status < 200;
    let keepAlive = keepAliveWanted && !out.close;
    let text =
      (out.statusText ? `HTTP/1.1 ${status} ${out.statusText}\r\n` : statusLine(status)) + out.fields;
    if (!out.hasDate) text += `date: ${httpDate()}\r\n`;
    const content = out.content;
    const length = out.bodyLength;
    if (content === null && length > 0 && !noBody) {
      throw badResponse(`Content-Length ${length} for a response without a body`);
    }
    let chunked = false;
    if (status === 204 || status < 200) {
      // No Content-Length at all.
    } else if (status === 304) {
      if (out.length !== undefined) text += `content-length: ${out.length}\r\n`;
    } else if (length >= 0) text += `content-length: ${length}\r\n`;
    else if (!isHead) {
      if (head.minor === 1) {
        chunked = true;
        text += 'transfer-encoding: chunked\r\n';
      } else keepAlive = false; // HTTP/1.0: the body ends when the connection does
    }
    if (head.minor === 1) {
      if (!keepAlive) text += 'connection: close\r\n';
    } else if (keepAlive) text += 'connection: keep-alive\r\n';
    text += '\r\n';

    if (content instanceof ReadableStream) {
      if (noBody) {
        content.cancel().catch(() => {});
        return this.#sent(this.#write(Buffer.from(text, 'latin1')), status, '-', keepAlive);
      }
      return this.#sendStream(text, content, chunked, length, status, keepAlive);
    }
    const bodyBytes = noBody || content === null ? 0 : length;
    let waiting: Promise<void> | undefined;
    if (bodyBytes === 0) waiting = this.#write(Buffer.from(text, 'latin1'));
    else if (typeof content === 'string') {
      const buf = Buffer.allocUnsafe(text.length + bodyBytes);
      buf.write(text, 0, 'latin1');
      buf.write(content, text.length, 'utf8');
      waiting = this.#write(buf);
    } else if (bodyBytes < 16 * 1024) {
      const buf = Buffer.allocUnsafe(text.length + bodyBytes);
      buf.write(text, 0, 'latin1');
      buf.set(content as Uint8Array, text.length);
      waiting = this.#write(buf);
    } else {
      waiting = this.#write(Buffer.from(text, 'latin1'));
      waiting = waiting
        ? waiting.then(() => this.#write(content as Uint8Array))
        : this.#write(content as Uint8Array);
    }
    return this.#sent(waiting, status, noBody ? '-' : bodyBytes, keepAlive);
  }

  #sent(waiting: Promise<void> | undefined, status: number, bytes: number | '-', keepAlive: boolean) {
    const outcome: Outcome = { status, bytes, keepAlive, linger: false };
    return waiting === undefined ? outcome : waiting.then(() => outcome);
  }

  async #sendStream(
    text: string,
    stream: ReadableStream<Uint8Array>,
    chunked: boolean,
    declared: number,
    status: number,
    keepAlive: boolean,
  ): Promise<Outcome> {
    await this.#sock.write(Buffer.from(text, 'latin1'));
    const sent = await this.#pump(stream, chunked, declared);
    return { status, bytes: sent, keepAlive, linger: false };
  }

  /** Send a streamed body as it is produced, with backpressure; checks a declared length. */
  async #pump(stream: ReadableStream<Uint8Array>, chunked: boolean, declared: number): Promise<number> {
    const sock = this.#sock;
    const reader = stream.getReader();
    let sent = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (!(value instanceof Uint8Array)) {
          throw badResponse(`a response body stream must yield Uint8Array chunks, got ${describe(value)}`);
        }
        if (value.length === 0) continue;
        sent += value.length;
        if (declared >= 0 && sent > declared) {
          throw badResponse(`the response body is longer than its Content-Length ${declared}`);
        }
        if (chunked) {
          const prefix = `${value.length.toString(16)}\r\n`;
          const frame = Buffer.allocUnsafe(prefix.length + value.length + 2);
          frame.write(prefix, 0, 'latin1');
          frame.set(value, prefix.length);
          frame.write('\r\n', prefix.length + value.length, 'latin1');
          await sock.write(frame);
        } else await sock.write(value);
      }
      if (declared >= 0 && sent !== declared) {
        throw badResponse(`the response body is shorter (${sent}) than its Content-Length ${declared}`);
      }
      if (chunked) await sock.write(Buffer.from('0\r\n\r\n', 'latin1'));
      return sent;
    } catch (err) {
      reader.cancel(err).catch(() => {});
      throw err;
    } finally {
      reader.releaseLock();
    }
  }
}

interface Outcome {
  status: number;
  bytes: number | '-';
  keepAlive: boolean;
  linger: boolean;
}

/** A response reduced to what goes on the wire. */
interface Outgoing {
  status: number;
  statusText: string;
  /** Serialised header lines (each ending in CRLF), framing headers left out. */
  fields: string;
  hasDate: boolean;
  /** The handler asked for `Connection: close`. */
  close: boolean;
  /** A Content-Length the handler set. */
  length: number | undefined;
  content: string | Uint8Array | ReadableStream<Uint8Array> | null;
  /** Bytes in `content`: known for a string or bytes (0 for none), else the declared length or -1. */
  bodyLength: number;
}

function refused(err: HttpError): Outcome {
  return { status: err.status, bytes: '-', keepAlive: false, linger: false };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return typeof value;
}

function internalError(): Response {
  return new Response('500 Internal Server Error\n', {
    status: 500,
    headers: { 'content-type': 'text/plain;charset=UTF-8' },
  });
}

function bodyContent(body: unknown): string | Uint8Array | ReadableStream<Uint8Array> | null | undefined {
  if (body === null || typeof body === 'string' || body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof URLSearchParams) return body.toString();
  if (body instanceof ReadableStream) return body;
  return undefined; // Blob, FormData...: the platform knows how
}

/** Reduce a Response to status, serialised headers and body. Throws for headers that would split the response. */
function outgoing(response: Response): Outgoing {
  const fields = new Fields();
  const fast = fastParts(response);
  if (fast !== undefined) {
    const content = bodyContent(fast.body);
    if (content !== undefined) {
      const init = fast.headers;
      if (init !== undefined) {
        if (init instanceof Headers) for (const [name, value] of init) fields.add(name, value);
        else if (Array.isArray(init)) {
          for (const pair of init) {
            if (pair.length !== 2) throw new TypeError('a header pair must have a name and a value');
            fields.add(String(pair[0]), String(pair[1]));
          }
        } else
          for (const name of Object.keys(init))
            fields.add(name, String((init as Record<string, unknown>)[name]));
      }
      if (!fields.hasType && fast.defaultType && content !== null) {
        fields.text += `content-type: ${fast.defaultType}\r\n`; // ours: nothing to check
        fields.hasType = true;
      }
      return fields.done(fast.status, fast.statusText, content);
    }
  }
  for (const [name, value] of response.headers) fields.add(name, value);
  let content: string | Uint8Array | ReadableStream<Uint8Array> | null;
  const source = platformSource(response);
  if (source !== undefined) content = source;
  else content = response.body;
  return fields.done(response.status, response.statusText, content);
}

/** Header lines being serialised, with the framing fields the server owns taken out. */
class Fields {
  text = '';
  hasType = false;
  hasDate = false;
  close = false;
  length: number | undefined;

  add(name: string, value: string): void {
    if (!TOKEN.test(name)) throw badResponse(`invalid response header name ${JSON.stringify(name)}`);
    const trimmed = value.trim();
    if (BAD_OUT_VALUE.test(trimmed)) {
      throw badResponse(`response header ${name} has CR, LF, NUL or a non-latin1 character in its value`);
    }
    const lower = name.toLowerCase();
    switch (lower) {
      case 'content-length':
        if (
          !/^[0-9]{1,15}$/.test(trimmed) ||
          (this.length !== undefined && this.length !== Number(trimmed))
        ) {
          throw badResponse(`invalid response Content-Length ${JSON.stringify(value)}`);
        }
        this.length = Number(trimmed);
        return;
      case 'transfer-encoding':
        return; // the server frames the body itself
      case 'connection':
        if (/(^|,)\s*close\s*(,|$)/i.test(trimmed)) this.close = true;
        return;
      case 'keep-alive':
        return;
      case 'content-type':
        this.hasType = true;
        break;
      case 'date':
        this.hasDate = true;
        break;
    }
    this.text += `${name}: ${trimmed}\r\n`;
  }

  done(
    status: number,
    statusText: string,
    content: string | Uint8Array | ReadableStream<Uint8Array> | null,
  ): Outgoing {
    let bodyLength: number;
    if (typeof content === 'string') bodyLength = Buffer.byteLength(content);
    else if (content instanceof Uint8Array) bodyLength = content.length;
    else bodyLength = this.length ?? (content === null ? 0 : -1);
    if (this.length !== undefined && bodyLength !== this.length && status !== 304 && status !== 204) {
      if (content !== null) {
        throw badResponse(`Content-Length ${this.length} does not match the body's ${bodyLength} bytes`);
      }
    }
    return {
      status,
      statusText,
      fields: this.text,
      hasDate: this.hasDate,
      close: this.close,
      length: this.length,
      content,
      bodyLength,
    };
  }
}

// Clients send the same Host on every request: remember the last one that passed the check.
let lastSimpleHost = '';
function isSimpleHost(host: string): boolean {
  if (!SIMPLE_HOST.test(host)) return false;
  lastSimpleHost = host;
  return true;
}

/** The request's absolute URL, as the platform's Request would spell it. */
function requestUrl(scheme: 'http' | 'https', head: RequestHead, sock: Socket): string {
  const target = head.target;
  if (head.method === 'CONNECT') {
    throw new HttpError(501, 'ERR_HTTP_NOT_IMPLEMENTED', 'CONNECT is not supported by this server');
  }
  let host = head.host;
  if (host !== lastSimpleHost && !VALID_HOST.test(host))
    throw new HttpError(400, 'ERR_HTTP_BAD_REQUEST', 'invalid Host header');
  if (host === '') {
    const local = sock.localAddress;
    host = local.family === 'IPv6' ? `[${local.address}]:${local.port}` : `${local.address}:${local.port}`;
  }
  if (target.charCodeAt(0) === 0x2f /* / */) {
    if (
      SIMPLE_TARGET.test(target) &&
      !target.includes('/.') &&
      (host === lastSimpleHost || isSimpleHost(host)) &&
      !host.endsWith(scheme === 'http' ? ':80' : ':443')
    ) {
      return `${scheme}://${host}${target}`;
    }
    return parsedUrl(`${scheme}://${host}${target}`);
  }
  if (/^https?:\/\//i.test(target)) return parsedUrl(target);
  if (target === '*' && head.method === 'OPTIONS') return parsedUrl(`${scheme}://${host}/*`);
  throw new HttpError(400, 'ERR_HTTP_BAD_REQUEST', 'malformed request-target');
}

function parsedUrl(text: string): string {
  try {
    return new URL(text).href;
  } catch {
    throw new HttpError(400, 'ERR_HTTP_BAD_REQUEST', 'the request-target and Host do not form a valid URL');
  }
}
