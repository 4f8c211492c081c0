// The request-head parser of the HTTP server: strict RFC 9112, in TypeScript,
// shared by every hub. It works on the head decoded as latin1 (one char per
// byte), which keeps every check a cheap string operation.

/** @internal Longest request-target accepted (larger gets 414). */
export const MAX_TARGET_BYTES = 8 * 1024;

/**
 * A request the server refuses before (or instead of) calling the handler:
 * `status` is the response sent, `code` Node-style (`HPE_...`-like names of
 * our own, e.g. `ERR_HTTP_HEADER_TOO_LARGE`). The connection is closed after it.
 */
export class HttpError extends Error {
  override name = 'HttpError';
  /** The HTTP status sent to the client. */
  readonly status: number;
  /** A Node-style code naming the reason. */
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** @internal A parsed request head. */
export interface RequestHead {
  method: string;
  /** The request-target as sent. */
  target: string;
  /** 1 for HTTP/1.1, 0 for HTTP/1.0. */
  minor: 0 | 1;
  /** Names (as sent) and values, flat: [name0, value0, name1, value1, ...]. */
  raw: string[];
  /** Host header value ('' when absent). */
  host: string;
  /** Body length in bytes: -1 for chunked, 0 for none. */
  length: number;
  keepAlive: boolean;
  expectContinue: boolean;
  /** Connection and Upgrade asked for a protocol switch (the value of Upgrade), else ''. */
  upgrade: string;
}

/** @internal An RFC 9110 token (method, header name, transfer-coding). */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field values: HTAB, SP, VCHAR and obs-text only (no CR, LF, NUL or other controls).
/** @internal A character a field value (or a reason phrase) may not hold. */
export const BAD_VALUE_CHAR = /[^\t\x20-\x7e\x80-\xff]/;
// A request-target: visible ASCII only (no spaces, controls or raw non-ASCII), and no `#` (a
// fragment is never sent) or `\` (not a URI char; the URL parser would take it for `/`).
const BAD_TARGET_CHAR = /[^\x21-\x7e]|[#\\]/;
const DIGITS = /^[0-9]+$/;

function bad(message: string): HttpError {
  return new HttpError(400, 'ERR_HTTP_BAD_REQUEST', message);
}

/**
 * Where the head ends in `text` (the index just past its blank line), -1 if
 * more bytes are needed. Throws for a head with bare-LF line ends, and for
 * limits already exceeded: 414 (request-target over 8 KiB) and 431 (head over
 * `maxHeaderBytes`).
 */
export function headEnd(text: string, maxHeaderBytes: number): number {
  // Empty lines before the request line are skipped (as parseHead does), not taken for the end of a head.
  let from = 0;
  while (text.startsWith('\r\n', from)) from += 2;
  const crlf = text.indexOf('\r\n\r\n', from);
  const lf = text.indexOf('\n\n', Math.max(0, from - 1));
  if (lf >= 0 && (crlf < 0 || lf < crlf + 2)) throw bad('bare LF line ending in the request head');
  if (crlf >= 0) {
    return crlf + 4;
  }
  checkTooLarge(text, text.length, maxHeaderBytes);
  return -1;
}

/** The head so far (`upTo` chars) is over a limit: 414 when the request line is, 431 otherwise. */
function checkTooLarge(text: string, upTo: number, maxHeaderBytes: number): void {
  const lineEnd = text.indexOf('\r\n');
  const line = lineEnd < 0 ? upTo : lineEnd;
  if (line > MAX_TARGET_BYTES + 32) {
    throw new HttpError(414, 'ERR_HTTP_URI_TOO_LONG', `request-target over ${MAX_TARGET_BYTES} bytes`);
  }
  const headers = lineEnd < 0 ? 0 : upTo - lineEnd;
  if (headers > maxHeaderBytes) {
    throw new HttpError(
      431,
      'ERR_HTTP_HEADER_TOO_LARGE',
      `request header fields over maxHeaderBytes (${maxHeaderBytes})`,
    );
  }
}

/**
 * Parse a complete head (`text` up to and including its blank line, as
 * latin1). Leading empty lines are skipped (RFC 9112 §2.2).
 *
 * @throws HttpError with the status to answer: 400 (malformed, smuggling
 *   attempts), 414, 431, 501 (unknown transfer-coding), 505, 417.
 */
export function parseHead(text: string, maxHeaderBytes: number): RequestHead {
  let at = 0;
  while (text.startsWith('\r\n', at)) at += 2;
  let eol = text.indexOf('\r\n', at);
  const line = text.slice(at, eol);
  if (line.includes('\r')) throw bad('bare CR in the request line');

  // request-line = method SP request-target SP HTTP-version
  const sp1 = line.indexOf(' ');
  const sp2 = line.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 < 0 || line.indexOf(' ', sp2 + 1) >= 0) throw bad('malformed request line');
  const method = line.slice(0, sp1);
  const target = line.slice(sp1 + 1, sp2);
  const version = line.slice(sp2 + 1);
  if (!TOKEN.test(method)) throw bad('malformed method');
  if (target.length > MAX_TARGET_BYTES) {
    throw new HttpError(414, 'ERR_HTTP_URI_TOO_LONG', `request-target over ${MAX_TARGET_BYTES} bytes`);
  }
  if (target.length === 0 || BAD_TARGET_CHAR.test(target)) throw bad('malformed request-target');
  if (line.length > MAX_TARGET_BYTES + 32) {
    // As headEnd() judges a request line still arriving (so the answer does not depend on how it was split).
    throw new HttpError(414, 'ERR_HTTP_URI_TOO_LONG', `request line over ${MAX_TARGET_BYTES + 32} bytes`);
  }
  let minor: 0 | 1;
  if (version === 'HTTP/1.1') minor = 1;
  else if (version === 'HTTP/1.0') minor = 0;
  else if (/^HTTP\/[0-9]\.[0-9]$/.test(version)) {
    throw new HttpError(505, 'ERR_HTTP_VERSION_NOT_SUPPORTED', `${version} is not supported`);
  } else throw bad('malformed HTTP version');
  if (text.length - eol > maxHeaderBytes + 2) {
    throw new HttpError(
      431,
      'ERR_HTTP_HEADER_TOO_LARGE',
      `request header fields over maxHeaderBytes (${maxHeaderBytes})`,
    );
  }

  const raw: string[] = [];
  let host: string | undefined;
  let contentLength: string | undefined;
  let transferEncoding: string | undefined;
  let connection = '';
  let expect: string | undefined;
  let upgrade = '';
  for (;;) {
    at = eol + 2;
    eol = text.indexOf('\r\n', at);
    if (eol === at) break;
    const field = text.slice(at, eol);
    const first = field.charCodeAt(0);
    if (first === 0x20 || first === 0x09) throw bad('obsolete line folding in a header');
    const colon = field.indexOf(':');
    if (colon <= 0) throw bad('header line without a name and colon');
    const name = field.slice(0, colon);
    if (!TOKEN.test(name)) throw bad(`malformed header name ${JSON.stringify(name)}`);
    let start = colon + 1;
    let end = field.length;
    while (start < end && (field.charCodeAt(start) === 0x20 || field.charCodeAt(start) === 0x09)) start++;
    while (end > start && (field.charCodeAt(end - 1) === 0x20 || field.charCodeAt(end - 1) === 0x09)) end--;
    const value = field.slice(start, end);
    if (BAD_VALUE_CHAR.test(value)) throw bad(`invalid character in header ${name}`);
    raw.push(name, value);
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === 'host') {
          if (host !== undefined) throw bad('more than one Host header');
          host = value;
        }
        break;
      case 6:
        if (name.toLowerCase() === 'expect') expect = expect === undefined ? value : `${expect}, ${value}`;
        break;
      case 7:
        if (name.toLowerCase() === 'upgrade') upgrade = value;
        break;
      case 10:
        if (name.toLowerCase() === 'connection') connection = connection ? `${connection}, ${value}` : value;
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') {
          contentLength = contentLength === undefined ? value : `${contentLength}, ${value}`;
        }
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') {
          transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
        }
        break;
    }
  }

  if (minor === 1 && host === undefined) throw bad('HTTP/1.1 request without Host');

  let length = 0;
  if (transferEncoding !== undefined) {
    if (contentLength !== undefined) throw bad('both Transfer-Encoding and Content-Length');
    if (minor === 0) throw bad('Transfer-Encoding in an HTTP/1.0 request');
    // Empty list elements are ignored (RFC 9110 §5.6.1).
    const codings = transferEncoding
      .toLowerCase()
      .split(',')
      .map((c) => c.trim())
      .filter((c) => c !== '');
    const last = codings[codings.length - 1] ?? '';
    if (last !== 'chunked') {
      if (codings.length === 1 && TOKEN.test(last) && last !== 'identity') {
        throw new HttpError(501, 'ERR_HTTP_NOT_IMPLEMENTED', `transfer-coding ${last} is not supported`);
      }
      throw bad('chunked is not the final transfer-coding');
    }
    const before = codings.slice(0, -1);
    if (before.includes('chunked')) throw bad('chunked applied more than once');
    if (before.length > 0) {
      throw new HttpError(501, 'ERR_HTTP_NOT_IMPLEMENTED', `transfer-coding ${before[0]} is not supported`);
    }
    length = -1;
  } else if (contentLength !== undefined) {
    // Repeated fields or a list of identical values ("5, 5") are valid (RFC 9110 §8.6); anything else is not.
    const values = contentLength.split(',').map((v) => v.trim());
    if (!values.every((v) => v === values[0]) || !DIGITS.test(values[0]!) || values[0]!.length > 15) {
      throw bad('invalid Content-Length');
    }
    length = Number(values[0]);
  }

  let expectContinue = false;
  if (expect !== undefined) {
    if (expect.toLowerCase() !== '100-continue') {
      throw new HttpError(417, 'ERR_HTTP_EXPECTATION_FAILED', `unsupported expectation ${expect}`);
    }
    expectContinue = minor === 1;
  }

  let keepAlive = minor === 1;
  let wantsUpgrade = false;
  if (connection) {
    for (const token of connection.toLowerCase().split(',')) {
      const t = token.trim();
      if (t === 'close') keepAlive = false;
      else if (t === 'keep-alive' && minor === 0) keepAlive = true;
      else if (t === 'upgrade') wantsUpgrade = true;
    }
  }

  return {
    method,
    target,
    minor,
    raw,
    host: host ?? '',
    length,
    keepAlive,
    expectContinue,
    upgrade: wantsUpgrade ? upgrade : '',
  };
}
