import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { type Greenlet, joinall, spawn } from '@greenhub/core';
import { captureReportedErrors, describeEachHub } from '@greenhub/core/testing';
import { Event } from '@greenhub/sync';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { WebSocket as NodeWs, WebSocketServer } from 'ws';
import type { FetchHandler } from '../src/http/connection.js';
import { FastResponse } from '../src/http/response.js';
import { type HttpServer, serve } from '../src/http/server.js';
import { connectWebSocket } from '../src/websocket/connect.js';
import { type UpgradeWebSocketOptions, upgradeWebSocket } from '../src/websocket/upgrade.js';
import type { WebSocket } from '../src/websocket/websocket.js';
import { moreThanKernelBuffers } from './sockets-helpers.js';
import { selfSignedCertificate } from './tls-cert.js';

const WAIT = 5000;

/** Reject after `ms` unless `p` settles first. */
function within<T>(p: Promise<T>, what: string, ms = WAIT): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A client frame (masked unless told otherwise). */
function frame(
  op: number,
  payload: Uint8Array | string,
  opts: { fin?: boolean; mask?: boolean; rsv?: number } = {},
): Buffer {
  const data = Buffer.from(payload);
  const mask = opts.mask ?? true;
  const len = data.length;
  const head = Buffer.alloc(len < 126 ? 2 : len < 65536 ? 4 : 10);
  head[0] = ((opts.fin ?? true) ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | op;
  if (len < 126) head[1] = len;
  else if (len < 65536) {
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  if (!mask) return Buffer.concat([head, data]);
  head[1]! |= 0x80;
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const masked = Buffer.from(data.map((b, i) => b ^ key[i & 3]!));
  return Buffer.concat([head, key, masked]);
}

interface WireFrame {
  op: number;
  fin: boolean;
  payload: Buffer;
}

/** A WebSocket client on Node's raw `net`, sending exact bytes: every wait bounded. */
class RawPeer {
  readonly socket: net.Socket;
  #buf = Buffer.alloc(0);
  ended = false;
  #wake: (() => void) | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, chunk]);
      this.#wake?.();
    });
    socket.on('close', () => {
      this.ended = true;
      this.#wake?.();
    });
    socket.on('error', () => {});
  }

  static open(port: number): Promise<RawPeer> {
    return within(
      new Promise((resolve, reject) => {
        const socket = net.createConnection({ host: '127.0.0.1', port }, () => resolve(new RawPeer(socket)));
        socket.once('error', reject);
      }),
      'raw connect',
    );
  }

  /** Connect and complete a handshake; returns the peer with the 101 head consumed. */
  static async upgraded(port: number, headers: string[] = []): Promise<RawPeer> {
    const peer = await RawPeer.open(port);
    peer.send(handshake(headers));
    const head = await peer.head();
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 101 Switching Protocols');
    return peer;
  }

  send(data: string | Uint8Array): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  async #more(what: string): Promise<void> {
    if (this.ended) throw new Error(`connection ended while waiting for ${what}`);
    await within(
      new Promise<void>((resolve) => {
        this.#wake = resolve;
      }),
      what,
    );
    this.#wake = undefined;
  }

  /** A response head (up to and including the blank line). */
  async head(): Promise<string> {
    for (;;) {
      const at = this.#buf.indexOf('\r\n\r\n');
      if (at >= 0) {
        const head = this.#buf.toString('latin1', 0, at + 4);
        this.#buf = this.#buf.subarray(at + 4);
        return head;
      }
      await this.#more('a response head');
    }
  }

  /** The next frame from the server, or null once the connection ended. */
  async frame(): Promise<WireFrame | null> {
    for (;;) {
      const b = this.#buf;
      if (b.length >= 2) {
        let len = b[1]! & 0x7f;
        let at = 2;
        if (len === 126 && b.length >= 4) {
          len = b.readUInt16BE(2);
          at = 4;
        } else if (len === 127 && b.length >= 10) {
          len = Number(b.readBigUInt64BE(2));
          at = 10;
        }
        if ((b[1]! & 0x7f) < 126 || at > 2) {
          expect(b[1]! & 0x80, 'server frames are never masked').toBe(0);
          if (b.length >= at + len) {
            this.#buf = b.subarray(at + len);
            return { op: b[0]! & 0x0f, fin: (b[0]! & 0x80) !== 0, payload: b.subarray(at, at + len) };
          }
        }
      }
      if (this.ended) return null;
      await this.#more('a frame');
    }
  }

  /** Read frames until a close frame: its code. */
  async closeCode(): Promise<number> {
    for (;;) {
      const f = await this.frame();
      if (f === null) throw new Error('connection ended without a close frame');
      if (f.op === 0x8) return f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
    }
  }

  async waitEnd(): Promise<void> {
    while (!this.ended) await this.#more('the end of the connection');
  }

  close(): void {
    this.socket.destroy();
  }
}

function handshake(headers: string[] = [], path = '/'): string {
  const base = [
    `GET ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version: 13',
  ];
  const names = new Set(headers.map((h) => h.split(':')[0]!.toLowerCase()));
  const lines = base.filter((l, i) => i < 2 || !names.has(l.split(':')[0]!.toLowerCase()));
  return `${[...lines, ...headers].join('\r\n')}\r\n\r\n`;
}

/** Wait for a `ws` client to open. */
function opened(ws: NodeWs): Promise<void> {
  return within(
    new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    }),
    'ws open',
  );
}

/** The next message a `ws` client receives. */
function nextMessage(ws: NodeWs): Promise<{ data: Buffer; isBinary: boolean }> {
  return within(
    new Promise((resolve) =>
      ws.once('message', (data: Buffer, isBinary: boolean) => resolve({ data, isBinary })),
    ),
    'ws message',
  );
}

function wsClosed(ws: NodeWs): Promise<{ code: number; reason: string }> {
  if (ws.readyState === NodeWs.CLOSED) return Promise.resolve({ code: -1, reason: '' });
  return within(
    new Promise((resolve) =>
      ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })),
    ),
    'ws close',
  );
}

/** The chromium to drive: $CHROMIUM_PATH, /usr/bin/chromium, or chromium on PATH. */
function findChromium(): string | undefined {
  for (const path of [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (path && existsSync(path)) return path;
  }
  try {
    return (
      execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], {
        encoding: 'utf8',
      }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}

let key = '';
let cert = '';
let disposeCert = (): void => {};
beforeAll(() => {
  ({ key, cert, dispose: disposeCert } = selfSignedCertificate());
});
afterAll(() => disposeCert());

let browser: Browser | undefined;
async function launchBrowser(): Promise<Browser> {
  if (browser === undefined) {
    const executablePath = findChromium();
    if (executablePath === undefined)
      throw new Error('chromium is needed for the browser test (apt-get install chromium)');
    browser = await chromium.launch({
      executablePath,
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
      timeout: 30_000,
    });
  }
  return browser;
}
afterAll(async () => {
  await browser?.close();
}, 30_000);

describeEachHub('WebSocket', () => {
  const servers: HttpServer[] = [];
  const cleanups: (() => void | Promise<void>)[] = [];
  const reported = captureReportedErrors();
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    for (const s of servers.splice(0)) await s.stop(500);
    expect(reported, 'errors reported through greenhub').toEqual([]);
  });

  async function start(fetch: FetchHandler): Promise<number> {
    const server = await serve({ port: 0, fetch });
    servers.push(server);
    return server.address.port;
  }

  /** A server whose WebSockets echo every message; `seen` gets each server-side WebSocket. */
  function echoServer(opts?: UpgradeWebSocketOptions, seen?: WebSocket[], users?: Greenlet<unknown>[]) {
    return start((request) => {
      const { socket, response } = upgradeWebSocket(request, opts);
      seen?.push(socket);
      const g = spawn(async () => {
        for await (const msg of socket) await socket.send(msg);
      });
      users?.push(g);
      return response;
    });
  }

  /** A server whose WebSockets the test drives itself: its port, and each server-side WebSocket in `seen`. */
  async function quietServer(opts?: UpgradeWebSocketOptions): Promise<{ port: number; seen: WebSocket[] }> {
    const seen: WebSocket[] = [];
    const port = await start((request) => {
      const { socket, response } = upgradeWebSocket(request, opts);
      seen.push(socket);
      return response;
    });
    return { port, seen };
  }

  function nodeClient(url: string, protocols?: string[]): NodeWs {
    const ws = new NodeWs(url, protocols);
    ws.on('error', () => {});
    cleanups.push(() => ws.terminate());
    return ws;
  }

  it('a ws client talks to upgradeWebSocket: text and binary echo, subprotocol, close code and reason', async () => {
    const seen: WebSocket[] = [];
    const port = await echoServer({ protocols: ['chat.v2', 'chat.v1'] }, seen);
    const ws = nodeClient(`ws://127.0.0.1:${port}/room?x=1`, ['chat.v1', 'chat.v2']);
    await opened(ws);
    expect(ws.protocol).toBe('chat.v2');
    expect(seen[0]!.protocol).toBe('chat.v2');
    expect(seen[0]!.url).toBe(`http://127.0.0.1:${port}/room?x=1`);
    ws.send('héllo wörld ✓');
    let m = await nextMessage(ws);
    expect([m.isBinary, m.data.toString()]).toEqual([false, 'héllo wörld ✓']);
    ws.send(Buffer.from([0, 1, 2, 255]));
    m = await nextMessage(ws);
    expect([m.isBinary, [...m.data]]).toEqual([true, [0, 1, 2, 255]]);
    // Large (64-bit length) and fragmented messages.
    const big = Buffer.alloc(200_000, 7);
    ws.send(big);
    m = await nextMessage(ws);
    expect(Buffer.compare(m.data, big)).toBe(0);
    ws.send('fra', { fin: false });
    ws.send('gmen', { fin: false });
    ws.send('ted ✓', { fin: true });
    m = await nextMessage(ws);
    expect(m.data.toString()).toBe('fragmented ✓');
    const closing = wsClosed(ws);
    ws.close(4001, 'done here');
    expect(await closing).toEqual({ code: 4001, reason: '' }); // the echo carries the code only
    expect(await within(seen[0]!.closed, 'server closed')).toEqual({
      code: 4001,
      reason: 'done here',
      wasClean: true,
    });
    expect(seen[0]!.readyState).toBe(3);
  });

  it('connectWebSocket talks to a ws server on node:http, and closes with the handshake', async () => {
    const server = http.createServer();
    const wss = new WebSocketServer({ server, handleProtocols: (set) => (set.has('b') ? 'b' : false) });
    const serverClosed = new Promise<{ code: number; reason: string }>((resolve) => {
      wss.on('connection', (sock, req) => {
        sock.send(`hello ${req.headers['x-token']}`);
        sock.on('message', (data, isBinary) => sock.send(data, { binary: isBinary }));
        sock.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const c of wss.clients) c.terminate();
          wss.close();
          server.close(() => resolve());
        }),
    );
    const port = (server.address() as net.AddressInfo).port;
    const ws = await connectWebSocket(`ws://127.0.0.1:${port}/x`, {
      protocols: ['a', 'b'],
      headers: { 'x-token': 't0k' },
      timeout: WAIT,
    });
    expect(ws.protocol).toBe('b');
    expect(ws.readyState).toBe(1);
    expect(await ws.receive({ timeout: WAIT })).toBe('hello t0k');
    await ws.send('ping ✓');
    expect(await ws.receive({ timeout: WAIT })).toBe('ping ✓');
    await ws.send(new Uint8Array([9, 8, 7]));
    expect([...((await ws.receive({ timeout: WAIT })) as Uint8Array)]).toEqual([9, 8, 7]);
    await ws.send('x'.repeat(100_000));
    expect(((await ws.receive({ timeout: WAIT })) as string).length).toBe(100_000);
    await ws.ping('are you there');
    await ws.close(1000, 'bye');
    expect(await within(serverClosed, 'ws server close')).toEqual({ code: 1000, reason: 'bye' });
    expect(await ws.closed).toEqual({ code: 1000, reason: 'bye', wasClean: true });
    expect(await ws.receive()).toBeNull();
    await expect(ws.send('late')).rejects.toMatchObject({ code: 'ERR_WEBSOCKET_CLOSED' });
  });

  it('connectWebSocket speaks wss: to an HttpServer with tls', async () => {
    const server = await serve({
      port: 0,
      tls: { key, cert },
      fetch(request) {
        const { socket, response } = upgradeWebSocket(request);
        spawn(async () => {
          for await (const msg of socket) await socket.send(msg);
        });
        return response;
      },
    });
    servers.push(server);
    const ws = await connectWebSocket(`wss://localhost:${server.address.port}/secure`, {
      tls: { ca: cert },
      timeout: WAIT,
    });
    expect(ws.url).toBe(`wss://localhost:${server.address.port}/secure`);
    await ws.send('over tls ✓');
    expect(await ws.receive({ timeout: WAIT })).toBe('over tls ✓');
    await ws.close();
    expect((await ws.closed).code).toBe(1000);
  });

  /** A raw server on Node's `net`: `onSocket` gets each connection once its handshake is read. */
  async function rawServer(onSocket: (sock: net.Socket, key: string) => void): Promise<number> {
    const server = net.createServer((sock) => {
      sock.on('error', () => {});
      let head = '';
      const onData = (chunk: Buffer) => {
        head += chunk.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        sock.off('data', onData);
        onSocket(sock, /sec-websocket-key: (\S+)/i.exec(head)?.[1] ?? '');
      };
      sock.on('data', onData);
    });
    const sockets = new Set<net.Socket>();
    server.on('connection', (s) => sockets.add(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          server.close(() => resolve());
        }),
    );
    return (server.address() as net.AddressInfo).port;
  }
  function accept101(sock: net.Socket, key: string): void {
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    sock.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
  }

  it('connectWebSocket closes with 1002 on a masked frame from the server', async () => {
    const closeFrames: Buffer[] = [];
    const port = await rawServer((sock, key) => {
      accept101(sock, key);
      sock.write(frame(1, 'masked', { mask: true }));
      sock.on('data', (d: Buffer) => closeFrames.push(d));
    });
    const ws = await connectWebSocket(`ws://127.0.0.1:${port}/`, { timeout: WAIT, closeTimeout: 200 });
    expect(await ws.receive({ timeout: WAIT })).toBeNull();
    expect((await ws.closed).code).toBe(1006); // this raw server never answers the close
    const sent = Buffer.concat(closeFrames);
    expect(sent[0]).toBe(0x88); // a close frame, final
    expect(sent[1]! & 0x80).toBe(0x80); // masked, as client frames must be
    const code = (sent[6]! ^ sent[2]!) * 256 + (sent[7]! ^ sent[3]!);
    expect(code).toBe(1002);
  });

  it('connectWebSocket validates the accept key and honours its timeout', async () => {
    const port = await rawServer((sock) => {
      sock.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bogus=\r\n\r\n',
      );
    });
    await expect(connectWebSocket(`ws://127.0.0.1:${port}/`, { timeout: WAIT })).rejects.toMatchObject({
      code: 'ERR_WEBSOCKET_HANDSHAKE',
    });
    const silent = await rawServer(() => {});
    const t0 = performance.now();
    await expect(connectWebSocket(`ws://127.0.0.1:${silent}/`, { timeout: 200 })).rejects.toMatchObject({
      code: 'ETIMEDOUT',
    });
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('a client heartbeat drops a server that does not answer pings', async () => {
    const port = await rawServer((sock, key) => accept101(sock, key));
    const ws = await connectWebSocket(`ws://127.0.0.1:${port}/`, {
      timeout: WAIT,
      heartbeat: { interval: 50, timeout: 100 },
    });
    const t0 = performance.now();
    expect(await within(ws.closed, 'heartbeat close')).toEqual({ code: 1006, reason: '', wasClean: false });
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('a WebSocket whose handler answers something else never opens; sends before the 101 wait for it', async () => {
    const seen: WebSocket[] = [];
    const received: unknown[] = [];
    const port = await start((request) => {
      const { socket, response } = upgradeWebSocket(request);
      seen.push(socket);
      spawn(async () => {
        received.push(await socket.receive());
      });
      if (new URL(request.url).pathname === '/no') return new FastResponse('no', { status: 403 });
      spawn(() => socket.send('welcome')); // runs before the 101 is written
      return response;
    });
    await expect(connectWebSocket(`ws://127.0.0.1:${port}/no`, { timeout: WAIT })).rejects.toMatchObject({
      status: 403,
    });
    expect(await within(seen[0]!.closed, 'abandoned')).toEqual({ code: 1006, reason: '', wasClean: false });
    const ws = await connectWebSocket(`ws://127.0.0.1:${port}/yes`, { timeout: WAIT });
    expect(await ws.receive({ timeout: WAIT })).toBe('welcome');
    await ws.close();
    expect(received).toEqual([null, null]);
  });

  it('connectWebSocket rejects a refused or wrong handshake with ERR_WEBSOCKET_HANDSHAKE', async () => {
    const port = await start((request) =>
      new URL(request.url).pathname === '/ws'
        ? upgradeWebSocket(request).response
        : new FastResponse('nope', { status: 404 }),
    );
    await expect(connectWebSocket(`ws://127.0.0.1:${port}/other`, { timeout: WAIT })).rejects.toMatchObject({
      code: 'ERR_WEBSOCKET_HANDSHAKE',
      status: 404,
    });
    // A subprotocol the server does not speak: the connection opens without one.
    const ws = await connectWebSocket(`ws://127.0.0.1:${port}/ws`, { protocols: ['zz'], timeout: WAIT });
    expect(ws.protocol).toBe('');
    ws.terminate();
    await ws.closed;
  });

  it('refuses bad handshakes: 426 with the supported version, 400 for a bad key or a non-upgrade', async () => {
    let handled = 0;
    const port = await start((request) => {
      handled++;
      return upgradeWebSocket(request).response;
    });
    const cases: [string[], number][] = [
      [['Sec-WebSocket-Version: 8'], 426],
      [['Sec-WebSocket-Key: tooshort'], 400],
      [['Upgrade: h2c'], 400],
      [['Connection: keep-alive'], 400],
    ];
    for (const [headers, status] of cases) {
      const peer = await RawPeer.open(port);
      cleanups.push(() => peer.close());
      peer.send(handshake(headers));
      const head = await peer.head();
      expect(head.split('\r\n')[0], headers.join()).toBe(
        `HTTP/1.1 ${status} ${status === 426 ? 'Upgrade Required' : 'Bad Request'}`,
      );
      if (status === 426) expect(head.toLowerCase()).toContain('sec-websocket-version: 13\r\n');
      await peer.waitEnd();
    }
    expect(handled).toBe(4);
  });

  it('computes Sec-WebSocket-Accept as RFC 6455 says', async () => {
    const port = await echoServer();
    const peer = await RawPeer.open(port);
    cleanups.push(() => peer.close());
    peer.send(handshake());
    const head = await peer.head();
    expect(head).toContain('sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n');
    expect(
      createHash('sha1')
        .update('dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
        .digest('base64'),
    ).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    expect(head.toLowerCase()).not.toContain('sec-websocket-extensions');
    // Frames sent in the same packet as the handshake are not lost.
    const peer2 = await RawPeer.open(port);
    cleanups.push(() => peer2.close());
    peer2.send(Buffer.concat([Buffer.from(handshake(), 'latin1'), frame(1, 'early')]));
    await peer2.head();
    const f = await peer2.frame();
    expect(f?.payload.toString()).toBe('early');
  });

  const violations: [string, (() => Buffer[]) | Buffer[], number][] = [
    ['an unmasked client frame', [frame(1, 'hi', { mask: false })], 1002],
    ['text that is not UTF-8', [frame(1, Buffer.from([0x68, 0xc3, 0x28]))], 1007],
    [
      'UTF-8 broken across fragments',
      [frame(1, Buffer.from([0xe2, 0x82]), { fin: false }), frame(0, Buffer.from([0x28]))],
      1007,
    ],
    ['a control frame over 125 bytes', [frame(9, Buffer.alloc(126))], 1002],
    ['a fragmented control frame', [frame(9, 'x', { fin: false })], 1002],
    ['reserved bits set', [frame(1, 'x', { rsv: 4 })], 1002],
    ['an unknown opcode', [frame(3, 'x')], 1002],
    ['a continuation of nothing', [frame(0, 'x')], 1002],
    ['a message over maxMessageBytes', [frame(2, Buffer.alloc(1025))], 1009],
    [
      'fragments adding up over maxMessageBytes',
      [frame(2, Buffer.alloc(600), { fin: false }), frame(0, Buffer.alloc(600))],
      1009,
    ],
    ['an invalid close code', [frame(8, Buffer.from([0x03, 0xed]))], 1002],
  ];
  for (const [what, frames, code] of violations) {
    it(`closes with ${code} on ${what}`, async () => {
      const seen: WebSocket[] = [];
      const port = await echoServer({ maxMessageBytes: 1024 }, seen);
      const peer = await RawPeer.upgraded(port);
      cleanups.push(() => peer.close());
      for (const f of typeof frames === 'function' ? frames() : frames) peer.send(f);
      expect(await peer.closeCode()).toBe(code);
      peer.send(frame(8, Buffer.from([code >> 8, code & 0xff])));
      await peer.waitEnd();
      expect((await within(seen[0]!.closed, 'server closed')).code).toBe(code);
    });
  }

  it('answers pings with pongs carrying the same data, and a close with a close', async () => {
    const port = await echoServer();
    const peer = await RawPeer.upgraded(port);
    cleanups.push(() => peer.close());
    peer.send(frame(9, 'abc'));
    const pong = await peer.frame();
    expect([pong?.op, pong?.payload.toString()]).toEqual([10, 'abc']);
    peer.send(frame(8, Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from('ok')])));
    expect(await peer.closeCode()).toBe(1000);
    await peer.waitEnd();
  });

  it('a browser (chromium) echoes text and binary through the server and closes with its code', async () => {
    const b = await launchBrowser();
    const seen: WebSocket[] = [];
    const port = await start((request) => {
      if (request.headers.get('upgrade') === null) {
        return new FastResponse('<!doctype html><title>ws</title>', {
          headers: { 'content-type': 'text/html' },
        });
      }
      const { socket, response } = upgradeWebSocket(request, { protocols: ['echo'] });
      seen.push(socket);
      spawn(async () => {
        for await (const msg of socket) await socket.send(msg);
      });
      return response;
    });
    const context = await b.newContext();
    cleanups.push(() => context.close());
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(`http://127.0.0.1:${port}/`);
    // Run in the page, as a string: this file's `WebSocket` is ours, the page's is the browser's.
    const script = `new Promise((resolve, reject) => {
      const ws = new WebSocket('ws://127.0.0.1:${port}/ws', ['echo']);
      ws.binaryType = 'arraybuffer';
      const got = [];
      ws.onopen = () => {
        got.push('protocol:' + ws.protocol);
        ws.send('héllo ✓');
        ws.send(new Uint8Array([1, 2, 3]));
        ws.send('x'.repeat(70000));
      };
      ws.onmessage = (e) => {
        got.push(typeof e.data === 'string'
          ? 'text:' + (e.data.length > 20 ? e.data.length : e.data)
          : 'bin:' + [...new Uint8Array(e.data)].join(','));
        if (got.length === 4) ws.close(4000, 'page done');
      };
      ws.onclose = (e) => resolve([...got, 'close:' + e.code + ':' + e.wasClean]);
      ws.onerror = () => reject(new Error('websocket error in the page'));
    })`;
    const result = await page.evaluate(script);
    expect(result).toEqual(['protocol:echo', 'text:héllo ✓', 'bin:1,2,3', 'text:70000', 'close:4000:true']);
    expect(await within(seen[0]!.closed, 'server closed')).toEqual({
      code: 4000,
      reason: 'page done',
      wasClean: true,
    });
  }, 60_000);

  it('serves 1,000 concurrent connections with fan-out in bounded time', async () => {
    const sockets: WebSocket[] = [];
    const allIn = new Event();
    const N = 1000;
    const M = 5;
    const port = await start((request) => {
      const { socket, response } = upgradeWebSocket(request);
      sockets.push(socket);
      if (sockets.length === N) allIn.set();
      return response;
    });
    const t0 = performance.now();
    const clients: WebSocket[] = [];
    cleanups.push(() => {
      for (const c of clients) c.terminate();
    });
    for (let i = 0; i < N; i += 100) {
      const batch = await joinall(
        Array.from({ length: Math.min(100, N - i) }, () =>
          spawn(() => connectWebSocket(`ws://127.0.0.1:${port}/`, { timeout: 10_000 })),
        ),
        { raiseError: true, timeout: 20_000 },
      );
      for (const g of batch) clients.push(g.value as WebSocket);
    }
    expect(clients.length).toBe(N);
    expect(await allIn.wait(10_000)).toBe(true);
    const readers = clients.map((ws) =>
      spawn(async () => {
        const got: unknown[] = [];
        for (let k = 0; k < M; k++) got.push(await ws.receive({ timeout: 20_000 }));
        return got;
      }),
    );
    const broadcaster = spawn(async () => {
      for (let k = 0; k < M; k++) for (const s of sockets) await s.send(`news ${k}`);
    });
    await joinall([broadcaster, ...readers], { raiseError: true, timeout: 30_000 });
    for (const r of readers) expect(r.value).toEqual(Array.from({ length: M }, (_, k) => `news ${k}`));
    await joinall(
      clients.map((ws) => spawn(() => ws.close())),
      { raiseError: true, timeout: 20_000 },
    );
    for (const s of sockets) expect((await s.closed).code).toBe(1000);
    expect(performance.now() - t0).toBeLessThan(45_000);
  }, 90_000);

  it('killing the greenlet using a WebSocket sends close 1001 and closes the socket', async () => {
    const users: Greenlet<unknown>[] = [];
    const seen: WebSocket[] = [];
    const port = await echoServer(undefined, seen, users);
    const ws = nodeClient(`ws://127.0.0.1:${port}/`);
    await opened(ws);
    ws.send('one');
    expect((await nextMessage(ws)).data.toString()).toBe('one');
    const closing = wsClosed(ws);
    users[0]!.kill();
    expect(await closing).toEqual({ code: 1001, reason: 'going away' });
    expect((await within(seen[0]!.closed, 'server closed')).code).toBe(1006);
    expect(users[0]!.dead).toBe(true);
  });

  it('stop() kills the connection greenlets of open WebSockets: clients see 1001', async () => {
    const port = await echoServer();
    const ws = nodeClient(`ws://127.0.0.1:${port}/`);
    await opened(ws);
    const closing = wsClosed(ws);
    const t0 = performance.now();
    await servers.pop()!.stop(100);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect((await closing).code).toBe(1001);
  });

  it('heartbeat drops a peer that does not answer pings, and keeps one that does', async () => {
    const seen: WebSocket[] = [];
    const port = await echoServer({ heartbeat: { interval: 100, timeout: 150 } }, seen);
    const silent = await RawPeer.upgraded(port);
    cleanups.push(() => silent.close());
    const lively = nodeClient(`ws://127.0.0.1:${port}/`);
    await opened(lively);
    const ping = await silent.frame();
    expect(ping?.op).toBe(9);
    const t0 = performance.now();
    await silent.waitEnd();
    expect(performance.now() - t0).toBeLessThan(2000);
    expect((await within(seen[0]!.closed, 'silent closed')).code).toBe(1006);
    expect(seen[1]!.readyState).toBe(1); // ws answers pings by itself
    lively.send('still here');
    expect((await nextMessage(lively)).data.toString()).toBe('still here');
  });

  it('receive() with a timeout leaves the connection open; close() waits for the peer at most closeTimeout', async () => {
    const { port, seen } = await quietServer({ closeTimeout: 200 });
    const peer = await RawPeer.upgraded(port);
    cleanups.push(() => peer.close());
    const s = seen[0]!;
    await expect(s.receive({ timeout: 50 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(s.readyState).toBe(1);
    peer.send(frame(1, 'after'));
    expect(await s.receive({ timeout: WAIT })).toBe('after');
    // The raw peer never answers the close frame.
    const t0 = performance.now();
    await s.close(1000, 'bye');
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(await peer.closeCode()).toBe(1000);
    await peer.waitEnd();
    expect(await s.closed).toEqual({ code: 1006, reason: '', wasClean: false });
  });

  it('a WebSocket nobody receives on stops reading at its queue limit; every message arrives in order once taken', async () => {
    const { port, seen } = await quietServer();
    const ws = nodeClient(`ws://127.0.0.1:${port}/`);
    await opened(ws);
    // 64 KiB messages, more than the receive queue (1 MiB), the largest socket buffers and the
    // 4 MiB checked below hold together.
    const count = Math.ceil((moreThanKernelBuffers() + 5 * 1024 * 1024) / (64 * 1024));
    for (let i = 0; i < count; i++) ws.send(Buffer.alloc(64 * 1024, i & 0xff));
    await new Promise((r) => setTimeout(r, 300));
    expect(ws.bufferedAmount, 'bytes the server did not take').toBeGreaterThan(4 * 1024 * 1024);
    const s = seen[0]!;
    const reader = spawn(async () => {
      let n = 0;
      for await (const msg of s) {
        if (msg.length !== 64 * 1024 || (msg as Uint8Array)[0] !== (n & 0xff))
          throw new Error(`message ${n} is wrong`);
        if (++n === count) return n;
      }
      return n;
    });
    expect(await within(reader.get(), 'every message', 20_000)).toBe(count);
    expect(ws.bufferedAmount).toBe(0);
  });

  it('send() waits while the peer does not read (backpressure) and resumes when it does', async () => {
    const { port, seen } = await quietServer();
    const peer = await RawPeer.upgraded(port);
    cleanups.push(() => peer.close());
    peer.socket.pause();
    peer.socket.removeAllListeners('data');
    peer.socket.on('data', () => {});
    const s = seen[0]!;
    const chunk = new Uint8Array(64 * 1024);
    // More 64 KiB messages than the largest socket buffers hold.
    const count = Math.ceil(moreThanKernelBuffers() / chunk.length);
    let sent = 0;
    const writer = spawn(async () => {
      for (let i = 0; i < count; i++) {
        await s.send(chunk);
        sent++;
      }
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(sent).toBeLessThan(count); // blocked: the peer does not read
    peer.socket.resume();
    expect(await writer.join(20_000)).toBe(true);
    expect(sent).toBe(count);
    s.terminate();
    await s.closed;
  });
});
