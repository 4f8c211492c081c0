// A corpus of malformed, hostile and borderline HTTP/1.1 requests sent as raw
// bytes over real TCP (node:net peers on 127.0.0.1) to the HttpServer, on
// every hub: each refusal must carry the right status and `connection: close`,
// close the connection, never reach the handler, and leave the server serving.

import * as nodeNet from 'node:net';
import { configure } from '@greenhub/core';
import { describeEachHub } from '@greenhub/core/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type HttpServer, type HttpServerOptions, serve } from '../src/http/server.js';
import { runProcess } from '../src/subprocess.js';

/** What a raw client saw: every byte, whether the server closed, and when. */
interface Reply {
  data: Buffer;
  /** The server ended the connection (FIN, or a reset). */
  closed: boolean;
  /** The server reset it (ECONNRESET...), if it did. */
  error: string | undefined;
  /** Ms from connect to the first byte received (-1 if none). */
  firstByteMs: number;
  /** Ms from connect to the close (or the give-up). */
  ms: number;
}

/** Bytes to send: all at once, or parts with a pause (ms) before each. */
type Payload = string | Buffer | { wait: number; bytes: string | Buffer }[];

/**
 * Connect to 127.0.0.1:`port`, send `payload` (latin1 for strings), keep the
 * write side open (unless `halfClose`: then end it after the last part), and
 * collect what comes back until the server closes;
 * bounded: gives up after `timeout` ms (closed: false).
 */
function exchange(port: number, payload: Payload, timeout = 3000, halfClose = false): Promise<Reply> {
  return new Promise((resolve) => {
    const started = performance.now();
    const chunks: Buffer[] = [];
    let firstByteMs = -1;
    let done = false;
    const timers: NodeJS.Timeout[] = [];
    const sock = nodeNet.createConnection({ host: '127.0.0.1', port });
    const finish = (closed: boolean, error?: string) => {
      if (done) return;
      done = true;
      for (const t of timers) clearTimeout(t);
      sock.destroy();
      resolve({ data: Buffer.concat(chunks), closed, error, firstByteMs, ms: performance.now() - started });
    };
    timers.push(setTimeout(() => finish(false), timeout));
    sock.on('data', (chunk: Buffer) => {
      if (firstByteMs < 0) firstByteMs = performance.now() - started;
      chunks.push(chunk);
    });
    sock.on('end', () => finish(true));
    sock.on('error', (err: NodeJS.ErrnoException) => finish(true, err.code ?? err.message));
    sock.on('connect', () => {
      if (typeof payload === 'string' || Buffer.isBuffer(payload)) {
        sock.write(typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload);
        if (halfClose) sock.end();
        return;
      }
      let at = 0;
      for (const part of payload) {
        at += part.wait;
        const bytes = typeof part.bytes === 'string' ? Buffer.from(part.bytes, 'latin1') : part.bytes;
        timers.push(setTimeout(() => done || sock.write(bytes), at));
      }
      if (halfClose) timers.push(setTimeout(() => done || sock.end(), at));
    });
  });
}

/** One response of a reply: status, headers (lower-cased names) and body. */
interface Parsed {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** Split a reply into its responses (interim 1xx ones included); the body is framed by Content-Length. */
function responses(data: Buffer): Parsed[] {
  const text = data.toString('latin1');
  const out: Parsed[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end < 0) throw new Error(`an incomplete response head: ${JSON.stringify(text.slice(at, at + 200))}`);
    const lines = text.slice(at, end).split('\r\n');
    const m = /^HTTP\/1\.1 (\d{3}) /.exec(lines[0]!);
    if (m === null) throw new Error(`not a status line: ${JSON.stringify(lines[0])}`);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
    }
    const length = Number(headers.get('content-length') ?? 0);
    const status = Number(m[1]);
    at = end + 4;
    out.push({ status, headers, body: text.slice(at, at + length) });
    at += status < 200 ? 0 : length;
  }
  return out;
}

/** The final (non-1xx) responses of a reply. */
function finals(data: Buffer): Parsed[] {
  return responses(data).filter((r) => r.status >= 200);
}

const H = 'Host: a.test\r\n';
const CLOSE = 'Connection: close\r\n';
const GOOD = `GET / HTTP/1.1\r\n${H}${CLOSE}\r\n`;

/** A request the server must refuse (status) or accept (200 with what the handler saw). */
interface Case {
  name: string;
  bytes: string | Buffer;
  /** The status of the (only) final response. */
  status: number;
  opts?: HttpServerOptions;
  /** The requests the handler saw, `METHOD url body` (PORT stands for the server's port; default none). */
  saw?: string[];
  /** How many final responses (default 1). */
  count?: number;
}

const SWALLOWED = `GET /smuggled HTTP/1.1\r\n${H}\r\n`;
const post = (headers: string, body: string) => `POST /p HTTP/1.1\r\n${H}${headers}\r\n${body}`;

const CASES: Case[] = [
  // ---- accepted, framing edge cases ----
  { name: 'a plain GET', bytes: GOOD, status: 200, saw: ['GET http://a.test/ '] },
  {
    name: 'Transfer-Encoding: Chunked (odd casing) is chunked',
    bytes: post(`Transfer-Encoding: Chunked\r\n${CLOSE}`, '5\r\nhello\r\n0\r\n\r\n'),
    status: 200,
    saw: ['POST http://a.test/p hello'],
  },
  {
    name: 'Transfer-Encoding with HTAB and trailing whitespace (OWS) is chunked',
    bytes: post(`Transfer-Encoding:\tchunked \t\r\n${CLOSE}`, '5\r\nhello\r\n0\r\n\r\n'),
    status: 200,
    saw: ['POST http://a.test/p hello'],
  },
  {
    name: 'chunked with chunk extensions (token, quoted) and a trailer field',
    bytes: post(
      `Transfer-Encoding: chunked\r\n${CLOSE}`,
      '3;a=b\r\nhel\r\n2 ; q="x;y"\r\nlo\r\n0\r\nX-Trailer: t\r\n\r\n',
    ),
    status: 200,
    saw: ['POST http://a.test/p hello'],
  },
  {
    name: 'Content-Length: 5 twice (identical) is accepted',
    bytes: post(`Content-Length: 5\r\nContent-Length: 5\r\n${CLOSE}`, 'hello'),
    status: 200,
    saw: ['POST http://a.test/p hello'],
  },
  {
    name: 'Content-Length: 5 and Content-Length: 5, 5 (all identical) is accepted',
    bytes: post(`Content-Length: 5\r\nContent-Length: 5, 5\r\n${CLOSE}`, 'hello'),
    status: 200,
    saw: ['POST http://a.test/p hello'],
  },
  {
    name: 'Transfer-Encoding with empty list elements (", chunked,") is chunked',
    bytes: post(`Transfer-Encoding: , chunked,\r\n${CLOSE}`, '5\r\nhello\r\n0\r\n\r\n'),
    status: 200,
    saw: ['POST http://a.test/p hello'],
  },
  {
    name: 'Content-Length: 5, 5 (identical list) is accepted',
    bytes: post(`Content-Length: 5, 5\r\n${CLOSE}`, 'hello'),
    status: 200,
    saw: ['POST http://a.test/p hello'],
  },
  {
    name: 'Content-Length with leading zeros (1*DIGIT) is accepted',
    bytes: post(`Content-Length: 005\r\n${CLOSE}`, 'hello'),
    status: 200,
    saw: ['POST http://a.test/p hello'],
  },
  {
    name: 'one leading CRLF before the request line is ignored',
    bytes: `\r\n${GOOD}`,
    status: 200,
    saw: ['GET http://a.test/ '],
  },
  {
    name: 'several leading CRLFs before the request line are ignored',
    bytes: `\r\n\r\n\r\n${GOOD}`,
    status: 200,
    saw: ['GET http://a.test/ '],
  },
  {
    name: 'absolute-form target: the handler sees that URL',
    bytes: `GET http://example.test/x HTTP/1.1\r\n${H}${CLOSE}\r\n`,
    status: 200,
    saw: ['GET http://example.test/x '],
  },
  {
    // Observed: the asterisk-form reaches the handler as http://<host>/*.
    name: 'OPTIONS * reaches the handler as http://host/*',
    bytes: `OPTIONS * HTTP/1.1\r\n${H}${CLOSE}\r\n`,
    status: 200,
    saw: ['OPTIONS http://a.test/* '],
  },
  {
    name: 'HTTP/1.0 without Host is served (and closed)',
    bytes: 'GET /old HTTP/1.0\r\n\r\n',
    status: 200,
    saw: ['GET http://127.0.0.1:PORT/old '], // no Host: the server's own address
  },
  {
    name: 'a pipelined request swallowed by the first body is body, not a request',
    bytes:
      `POST /first HTTP/1.1\r\n${H}Content-Length: ${SWALLOWED.length}\r\n\r\n` +
      SWALLOWED +
      `GET /third HTTP/1.1\r\n${H}${CLOSE}\r\n`,
    status: 200,
    count: 2,
    saw: [`POST http://a.test/first ${SWALLOWED}`, 'GET http://a.test/third '],
  },

  {
    name: 'extra CRLFs between two keep-alive requests are ignored',
    bytes: `GET /1 HTTP/1.1\r\n${H}\r\n\r\n\r\nGET /2 HTTP/1.1\r\n${H}${CLOSE}\r\n`,
    status: 200,
    count: 2,
    saw: ['GET http://a.test/1 ', 'GET http://a.test/2 '],
  },
  {
    name: 'a lower-case method reaches the handler as sent (methods are case-sensitive)',
    bytes: `get / HTTP/1.1\r\n${H}${CLOSE}\r\n`,
    status: 200,
    saw: ['get http://a.test/ '],
  },
  {
    name: 'Expect: 100-continue in an HTTP/1.0 request is ignored',
    bytes: 'POST /old HTTP/1.0\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi',
    status: 200,
    saw: ['POST http://127.0.0.1:PORT/old hi'],
  },
  {
    name: 'a Host port with leading zeros: the URL is the canonical one',
    bytes: `GET /x HTTP/1.1\r\nHost: a.test:0800\r\n${CLOSE}\r\n`,
    status: 200,
    saw: ['GET http://a.test:800/x '],
  },
  {
    name: 'a Host that is an IPv4 number in another notation: the URL is the canonical one',
    bytes: `GET /x HTTP/1.1\r\nHost: 0x7f.1\r\n${CLOSE}\r\n`,
    status: 200,
    saw: ['GET http://127.0.0.1/x '],
  },
  {
    name: 'percent-encoded NUL in the target is only data',
    bytes: `GET /a%00b HTTP/1.1\r\n${H}${CLOSE}\r\n`,
    status: 200,
    saw: ['GET http://a.test/a%00b '],
  },

  // ---- 400: malformed line endings, folding, characters ----
  { name: 'bare LF line endings', bytes: 'GET / HTTP/1.1\nHost: a.test\n\n', status: 400 },
  { name: 'a bare LF ending one header line', bytes: `GET / HTTP/1.1\r\nX: 1\n${H}\r\n`, status: 400 },
  { name: 'the head ends in CRLF LF', bytes: `GET / HTTP/1.1\r\n${H}\n`, status: 400 },
  { name: 'bare CR in the request line', bytes: `GET /\r HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'bare CR in a header value', bytes: `GET / HTTP/1.1\r\n${H}X: a\rb\r\n\r\n`, status: 400 },
  {
    name: 'obs-fold (header continuation line)',
    bytes: `GET / HTTP/1.1\r\n${H}X: a\r\n  b\r\n\r\n`,
    status: 400,
  },
  { name: 'first header line starts with whitespace', bytes: `GET / HTTP/1.1\r\n ${H}\r\n`, status: 400 },
  {
    name: 'Transfer-Encoding : chunked (space before the colon)',
    bytes: post('Transfer-Encoding : chunked\r\n', '0\r\n\r\n'),
    status: 400,
  },
  { name: 'NUL in a header value', bytes: `GET / HTTP/1.1\r\n${H}X: a\0b\r\n\r\n`, status: 400 },
  { name: 'NUL in a header name', bytes: `GET / HTTP/1.1\r\n${H}X\0Y: a\r\n\r\n`, status: 400 },
  {
    name: 'a control char (0x01) in a header value',
    bytes: `GET / HTTP/1.1\r\n${H}X: a\x01\r\n\r\n`,
    status: 400,
  },
  { name: 'DEL in a header value', bytes: `GET / HTTP/1.1\r\n${H}X: a\x7f\r\n\r\n`, status: 400 },
  { name: 'NUL in the request-target', bytes: `GET /a\0b HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'raw non-ASCII in the request-target', bytes: `GET /\xe9 HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'a header line without a colon', bytes: `GET / HTTP/1.1\r\n${H}NoColon\r\n\r\n`, status: 400 },
  { name: 'an empty header name', bytes: `GET / HTTP/1.1\r\n${H}: v\r\n\r\n`, status: 400 },

  // ---- 400: request line ----
  { name: 'HTTP/0.9-style request line', bytes: 'GET /\r\n\r\n', status: 400 },
  { name: 'two spaces in the request line', bytes: `GET  / HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'a space inside the target', bytes: `GET /a b HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'lower-case http/1.1', bytes: `GET / http/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'version HTTP/1.10', bytes: `GET / HTTP/1.10\r\n${H}\r\n`, status: 400 },
  { name: 'a method with a separator', bytes: `GE(T / HTTP/1.1\r\n${H}\r\n`, status: 400 },
  {
    name: 'GET * (asterisk-form for a method other than OPTIONS)',
    bytes: `GET * HTTP/1.1\r\n${H}\r\n`,
    status: 400,
  },

  { name: 'a fragment in the target', bytes: `GET /a#frag HTTP/1.1\r\n${H}\r\n`, status: 400 },
  {
    name: 'a backslash in the target (the URL parser would read /public\\..\\admin as /admin)',
    bytes: `GET /public\\..\\admin HTTP/1.1\r\n${H}\r\n`,
    status: 400,
  },

  // ---- 400: Host ----
  { name: 'a Host port over 65535', bytes: 'GET / HTTP/1.1\r\nHost: a.test:99999\r\n\r\n', status: 400 },
  {
    name: 'a Host whose last label is a number (a.1)',
    bytes: 'GET / HTTP/1.1\r\nHost: a.1\r\n\r\n',
    status: 400,
  },
  { name: 'a Host with invalid punycode', bytes: 'GET / HTTP/1.1\r\nHost: xn--a\r\n\r\n', status: 400 },
  { name: 'HTTP/1.1 without Host', bytes: 'GET / HTTP/1.1\r\n\r\n', status: 400 },
  { name: 'duplicate Host', bytes: `GET / HTTP/1.1\r\n${H}host: b.test\r\n\r\n`, status: 400 },
  { name: 'an invalid Host value', bytes: 'GET / HTTP/1.1\r\nHost: a b/c\r\n\r\n', status: 400 },

  // ---- 400: smuggling ----
  {
    name: 'CL + TE (a smuggled request in the chunked body)',
    bytes: post(
      'Content-Length: 4\r\nTransfer-Encoding: chunked\r\n',
      `0\r\n\r\nGET /smuggled HTTP/1.1\r\n${H}\r\n`,
    ),
    status: 400,
  },
  {
    name: 'TE + CL',
    bytes: post('Transfer-Encoding: chunked\r\nContent-Length: 30\r\n', '0\r\n\r\n'),
    status: 400,
  },
  {
    name: 'duplicate Transfer-Encoding: chunked lines',
    bytes: post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'),
    status: 400,
  },
  {
    name: 'Transfer-Encoding: chunked, chunked',
    bytes: post('Transfer-Encoding: chunked, chunked\r\n', ''),
    status: 400,
  },
  {
    name: 'Transfer-Encoding: chunked, gzip',
    bytes: post('Transfer-Encoding: chunked, gzip\r\n', ''),
    status: 400,
  },
  { name: 'Transfer-Encoding: identity', bytes: post('Transfer-Encoding: identity\r\n', ''), status: 400 },
  {
    name: 'Transfer-Encoding in an HTTP/1.0 request',
    bytes: 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    status: 400,
  },
  {
    name: 'Transfer-Encoding split by obs-fold',
    bytes: post('Transfer-Encoding:\r\n chunked\r\n', '0\r\n\r\n'),
    status: 400,
  },
  {
    name: 'Content-Length 5 then 6',
    bytes: post('Content-Length: 5\r\nContent-Length: 6\r\n', 'hello!'),
    status: 400,
  },
  { name: 'Content-Length: 5, 6', bytes: post('Content-Length: 5, 6\r\n', 'hello!'), status: 400 },
  { name: 'Content-Length: abc', bytes: post('Content-Length: abc\r\n', ''), status: 400 },
  { name: 'Content-Length: -1', bytes: post('Content-Length: -1\r\n', ''), status: 400 },
  { name: 'Content-Length: +5', bytes: post('Content-Length: +5\r\n', 'hello'), status: 400 },
  { name: 'Content-Length: 0x5', bytes: post('Content-Length: 0x5\r\n', 'hello'), status: 400 },
  { name: 'Content-Length: 5 5', bytes: post('Content-Length: 5 5\r\n', 'hello'), status: 400 },
  { name: 'an empty Content-Length', bytes: post('Content-Length: \r\n', ''), status: 400 },
  {
    name: 'Content-Length of 16 digits',
    bytes: post('Content-Length: 1000000000000000\r\n', ''),
    status: 400,
  },

  // ---- 400: chunked framing (found while the handler reads the body) ----
  {
    name: 'a malformed chunk size',
    bytes: post('Transfer-Encoding: chunked\r\n', 'zz\r\nhello\r\n0\r\n\r\n'),
    status: 400,
    saw: ['POST http://a.test/p'],
  },
  {
    name: 'a 0x-prefixed chunk size',
    bytes: post('Transfer-Encoding: chunked\r\n', '0x5\r\nhello\r\n0\r\n\r\n'),
    status: 400,
    saw: ['POST http://a.test/p'],
  },
  {
    name: 'a negative chunk size',
    bytes: post('Transfer-Encoding: chunked\r\n', '-5\r\nhello\r\n0\r\n\r\n'),
    status: 400,
    saw: ['POST http://a.test/p'],
  },
  {
    name: 'a chunk size line ending in bare LF',
    bytes: post('Transfer-Encoding: chunked\r\n', '5\nhello\r\n0\r\n\r\n'),
    status: 400,
    saw: ['POST http://a.test/p'],
  },
  {
    name: 'chunk data not followed by CRLF',
    bytes: post('Transfer-Encoding: chunked\r\n', '5\r\nhelloXX\r\n0\r\n\r\n'),
    status: 400,
    saw: ['POST http://a.test/p'],
  },
  {
    name: 'a malformed trailer field',
    bytes: post('Transfer-Encoding: chunked\r\n', '5\r\nhello\r\n0\r\nno colon here\r\n\r\n'),
    status: 400,
    saw: ['POST http://a.test/p'],
  },
  {
    name: 'a trailer field folded (obs-fold)',
    bytes: post('Transfer-Encoding: chunked\r\n', '5\r\nhello\r\n0\r\nX: a\r\n b\r\n\r\n'),
    status: 400,
    saw: ['POST http://a.test/p'],
  },

  // ---- 414 / 431 / 413 ----
  {
    name: 'a request-target of 8 KiB + 1',
    bytes: `GET /${'a'.repeat(8192)} HTTP/1.1\r\n${H}\r\n`,
    status: 414,
  },
  {
    name: 'a request-target of exactly 8 KiB is accepted',
    bytes: `GET /${'a'.repeat(8191)} HTTP/1.1\r\n${H}${CLOSE}\r\n`,
    status: 200,
    saw: [`GET http://a.test/${'a'.repeat(8191)} `],
  },
  {
    name: 'a request line of 9000 bytes with a short target (a long method)',
    bytes: `${'A'.repeat(9000)} / HTTP/1.1\r\n${H}\r\n`,
    status: 414,
  },
  {
    name: 'a header block over the default 16 KiB',
    bytes: `GET / HTTP/1.1\r\n${H}${'X-Big: '.concat('b'.repeat(1000), '\r\n').repeat(17)}\r\n`,
    status: 431,
  },
  {
    name: 'one header line over the default 16 KiB',
    bytes: `GET / HTTP/1.1\r\n${H}X-Big: ${'b'.repeat(17 * 1024)}\r\n\r\n`,
    status: 431,
  },
  {
    name: 'a header block over a custom maxHeaderBytes of 256',
    bytes: `GET / HTTP/1.1\r\n${H}X-Big: ${'b'.repeat(300)}\r\n\r\n`,
    status: 431,
    opts: { maxHeaderBytes: 256 },
  },
  {
    name: 'a header block just under a custom maxHeaderBytes of 256 is accepted',
    bytes: `GET / HTTP/1.1\r\n${H}${CLOSE}X-Big: ${'b'.repeat(180)}\r\n\r\n`,
    status: 200,
    opts: { maxHeaderBytes: 256 },
    saw: ['GET http://a.test/ '],
  },
  {
    name: 'a Content-Length over maxBodyBytes (413 before the handler)',
    bytes: post('Content-Length: 11\r\n', 'hello world'),
    status: 413,
    opts: { maxBodyBytes: 10 },
  },
  {
    name: 'a chunked body growing over maxBodyBytes (413 as it arrives)',
    bytes: post('Transfer-Encoding: chunked\r\n', '8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n'),
    status: 413,
    opts: { maxBodyBytes: 10 },
    saw: ['POST http://a.test/p'],
  },

  // ---- 501 / 505 / 417 ----
  { name: 'Transfer-Encoding: gzip', bytes: post('Transfer-Encoding: gzip\r\n', ''), status: 501 },
  {
    name: 'Transfer-Encoding: gzip, chunked',
    bytes: post('Transfer-Encoding: gzip, chunked\r\n', '0\r\n\r\n'),
    status: 501,
  },
  {
    name: 'Transfer-Encoding: xchunked',
    bytes: post('Transfer-Encoding: xchunked\r\n', '0\r\n\r\n'),
    status: 501,
  },
  { name: 'CONNECT host:443', bytes: `CONNECT a.test:443 HTTP/1.1\r\n${H}\r\n`, status: 501 },
  { name: 'CONNECT with an origin-form target', bytes: `CONNECT /x HTTP/1.1\r\n${H}\r\n`, status: 501 },
  { name: 'HTTP/2.0', bytes: `GET / HTTP/2.0\r\n${H}\r\n`, status: 505 },
  { name: 'HTTP/1.2', bytes: `GET / HTTP/1.2\r\n${H}\r\n`, status: 505 },
  { name: 'the HTTP/2 connection preface', bytes: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', status: 505 },
  {
    name: 'Expect: something-else',
    bytes: `GET / HTTP/1.1\r\n${H}Expect: something-else\r\n\r\n`,
    status: 417,
  },
];

describeEachHub('HttpServer request corpus', () => {
  let errors: { error: unknown; context: string }[] = [];
  let servers: HttpServer[] = [];
  beforeEach(() => {
    errors = [];
    servers = [];
    configure({ onError: (error, context) => errors.push({ error, context }) });
  });
  afterEach(async () => {
    for (const server of servers) await server.stop(1000);
    configure({ onError: undefined });
  });

  /** Requests the handler saw, as `METHOD url body` ("METHOD url" while its body is being read). */
  let saw: string[] = [];
  async function start(opts?: HttpServerOptions): Promise<number> {
    saw = [];
    const server = await serve({
      port: 0,
      ...opts,
      fetch: async (req) => {
        const at = saw.push(`${req.method} ${req.url}`) - 1;
        const body = await req.text();
        saw[at] += ` ${body}`;
        return new Response(`${req.method} ${new URL(req.url).pathname} ${body}`);
      },
    });
    servers.push(server);
    return server.address.port;
  }

  /** A normal request on a new connection still gets its 200. */
  async function stillServes(port: number): Promise<void> {
    const reply = await exchange(port, GOOD);
    expect(reply.closed).toBe(true);
    const [res] = finals(reply.data);
    expect(res?.status).toBe(200);
    expect(res?.body).toBe('GET / ');
  }

  for (const c of CASES) {
    it(`${c.status} for ${c.name}`, async () => {
      const port = await start(c.opts);
      const reply = await exchange(port, c.bytes);
      expect(reply.closed, 'the server closed the connection').toBe(true);
      const got = finals(reply.data);
      expect(got.map((r) => r.status)).toEqual(Array(c.count ?? 1).fill(c.status));
      const last = got[got.length - 1]!;
      const http10 = /^[A-Z]+ \S+ HTTP\/1\.0\r\n/.test(c.bytes.toString('latin1'));
      if (c.status >= 400 || !http10) expect(last.headers.get('connection')).toBe('close');
      if (c.status >= 400) expect(reply.error, 'not reset: the refusal is read in full').toBeUndefined();
      expect(saw).toEqual((c.saw ?? []).map((s) => s.replace('PORT', String(port))));
      expect(errors).toEqual([]);
      await stillServes(port);
    });
  }

  it('408 and a close for a client that sends half a head and stops (headersTimeout 300)', async () => {
    const port = await start({ headersTimeout: 300 });
    const reply = await exchange(port, `GET / HTTP/1.1\r\n${H}X-Half: `);
    expect(reply.closed).toBe(true);
    const [res] = finals(reply.data);
    expect(res?.status).toBe(408);
    expect(res?.headers.get('connection')).toBe('close');
    expect(reply.firstByteMs).toBeGreaterThan(250);
    expect(reply.ms).toBeLessThan(1000);
    expect(saw).toEqual([]);
    await stillServes(port);
  });

  it('408 for a head trickled byte by byte past headersTimeout (the deadline is not reset)', async () => {
    const port = await start({ headersTimeout: 300 });
    const head = `GET / HTTP/1.1\r\n${H}${'X-Slow: 1\r\n'.repeat(10)}\r\n`;
    const parts = [...head].map((ch) => ({ wait: 20, bytes: ch }));
    const reply = await exchange(port, parts);
    expect(reply.closed).toBe(true);
    expect(finals(reply.data).map((r) => r.status)).toEqual([408]);
    expect(reply.ms).toBeLessThan(1000);
    expect(saw).toEqual([]);
    await stillServes(port);
  });

  it('closes within ~headersTimeout a request whose body stops short (CL 10, 3 bytes sent)', async () => {
    const port = await start({ headersTimeout: 300 });
    const reply = await exchange(port, post('Content-Length: 10\r\n', 'abc'));
    expect(reply.closed).toBe(true);
    expect(reply.ms).toBeLessThan(1300);
    const got = finals(reply.data);
    expect(got.map((r) => r.status)).toEqual([408]);
    expect(got[0]!.headers.get('connection')).toBe('close');
    expect(saw).toEqual(['POST http://a.test/p']);
    expect(errors).toEqual([]);
    await stillServes(port);
  });

  it('closes without a response a connection that sends nothing, after headersTimeout', async () => {
    const port = await start({ headersTimeout: 300 });
    const reply = await exchange(port, []);
    expect(reply.closed).toBe(true);
    expect(reply.data.length).toBe(0);
    expect(reply.ms).toBeGreaterThan(250);
    expect(reply.ms).toBeLessThan(1000);
    await stillServes(port);
  });

  it('closes an idle keep-alive connection after keepAliveTimeout', async () => {
    const port = await start({ keepAliveTimeout: 300, headersTimeout: 5000 });
    const reply = await exchange(port, `GET / HTTP/1.1\r\n${H}\r\n`);
    expect(reply.closed).toBe(true);
    const got = finals(reply.data);
    expect(got.map((r) => r.status)).toEqual([200]);
    expect(got[0]!.headers.get('connection')).toBeUndefined(); // kept alive...
    const idle = reply.ms - reply.firstByteMs; // ...until the timeout
    expect(idle).toBeGreaterThan(250);
    expect(idle).toBeLessThan(1000);
    await stillServes(port);
  });

  it("answers requests sent before the client's FIN (printf | nc), pipelined ones too, then closes", async () => {
    const port = await start();
    const one = await exchange(port, post('Content-Length: 5\r\n', 'hello'), 3000, true);
    expect(one.closed).toBe(true);
    expect(finals(one.data).map((r) => [r.status, r.body])).toEqual([[200, 'POST /p hello']]);
    const two = await exchange(port, `GET /1 HTTP/1.1\r\n${H}\r\nGET /2 HTTP/1.1\r\n${H}\r\n`, 3000, true);
    expect(two.closed).toBe(true);
    expect(finals(two.data).map((r) => [r.status, r.body])).toEqual([
      [200, 'GET /1 '],
      [200, 'GET /2 '],
    ]);
    const cut = await exchange(port, `GET / HTTP/1.1\r\n${H}X-Cut: `, 3000, true);
    expect(cut.closed).toBe(true);
    expect(finals(cut.data).map((r) => r.status)).toEqual([400]); // FIN in the middle of a head
    expect(saw).toEqual(['POST http://a.test/p hello', 'GET http://a.test/1 ', 'GET http://a.test/2 ']);
    expect(errors).toEqual([]);
    await stillServes(port);
  });

  it('answers Expect: 100-continue with 100 when the handler reads the body', async () => {
    const port = await start();
    const reply = await exchange(port, [
      { wait: 0, bytes: post(`Content-Length: 5\r\nExpect: 100-continue\r\n${CLOSE}`, '') },
      { wait: 100, bytes: 'hello' },
    ]);
    expect(reply.closed).toBe(true);
    expect(responses(reply.data).map((r) => r.status)).toEqual([100, 200]);
    expect(saw).toEqual(['POST http://a.test/p hello']);
  });

  it('talks to a Python http.client (GET, then POST with a body on the same connection)', async () => {
    const port = await start();
    const script = [
      'import http.client, sys',
      `c = http.client.HTTPConnection("127.0.0.1", ${port}, timeout=5)`,
      'c.request("GET", "/py?x=1")',
      'r = c.getresponse()',
      'print(r.status, r.read().decode())',
      'c.request("POST", "/echo", body=b"hello from python", headers={"Content-Type": "text/plain"})',
      'r = c.getresponse()',
      'print(r.status, r.read().decode())',
      'c.close()',
    ].join('\n');
    const result = await runProcess('python3', ['-c', script], { timeout: 10_000 });
    expect(Buffer.from(result.stderr).toString()).toBe('');
    expect(result.exitCode).toBe(0);
    expect(Buffer.from(result.stdout).toString().split('\n')).toEqual([
      '200 GET /py ',
      '200 POST /echo hello from python',
      '',
    ]);
    expect(saw).toEqual([
      `GET http://127.0.0.1:${port}/py?x=1 `,
      `POST http://127.0.0.1:${port}/echo hello from python`,
    ]);
  });
});
