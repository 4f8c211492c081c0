import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as https from 'node:https';
import { join } from 'node:path';
import { configure, GreenletExit, getcurrent, sleep } from '@greenhub/core';
import { describeEachHub } from '@greenhub/core/testing';
import { Event } from '@greenhub/sync';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import type { FetchHandler } from '../src/http/connection.js';
import { FastResponse } from '../src/http/response.js';
import { HttpServer, type HttpServerOptions, serve } from '../src/http/server.js';
import { StreamServer } from '../src/stream-server.js';
import { RawClient, request } from './http-helpers.js';
import { selfSignedCertificate } from './tls-cert.js';

/** Yield until `cond()` holds (bounded: fails after ~3 s). */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 3000;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** Run `curl` with `args` (bounded), resolving with its stdout. */
function curl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '--max-time', '5', ...args], { encoding: 'latin1' }, (err, stdout, stderr) =>
      err ? reject(new Error(`curl failed: ${stderr || err.message}`)) : resolve(stdout),
    );
  });
}

let key = '';
let cert = '';
let dir = '';
let dispose = (): void => {};
beforeAll(() => {
  ({ key, cert, dir, dispose } = selfSignedCertificate());
});
afterAll(() => dispose());

describeEachHub('HttpServer', () => {
  let errors: { error: unknown; context: string }[] = [];
  const servers: HttpServer[] = [];
  const clients: RawClient[] = [];
  beforeEach(() => {
    errors = [];
    configure({ onError: (error, context) => errors.push({ error, context }) });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const s of servers.splice(0)) await s.stop(500);
    configure({ onError: undefined });
  });

  async function start(fetch: FetchHandler, opts?: HttpServerOptions): Promise<number> {
    const server = await serve({ port: 0, fetch, ...opts });
    servers.push(server);
    return server.address.port;
  }
  async function client(port: number): Promise<RawClient> {
    const c = await RawClient.connect(port);
    clients.push(c);
    return c;
  }
  /** Send a request that its handler never answers, then `stop(100)`: it must end promptly and close. */
  async function stopMidRequest(server: HttpServer, started: Event): Promise<void> {
    servers.push(server);
    const c = await client(server.address.port);
    c.send(request('GET', '/'));
    await started.wait(3000);
    const t0 = performance.now();
    await server.stop(100);
    expect(performance.now() - t0).toBeLessThan(1500);
    await c.waitEnd();
  }

  it('serves a fetch handler: Request in, Response out, with Content-Length, Content-Type and Date', async () => {
    let seen: Request | undefined;
    let remote = '';
    const port = await start((req, info) => {
      seen = req;
      remote = info.remoteAddress.address;
      return new FastResponse('Hello, world!');
    });
    const res = await fetch(`http://127.0.0.1:${port}/path/x?q=1`, { headers: { 'X-Test': 'yes' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('Hello, world!');
    expect(res.headers.get('content-length')).toBe('13');
    expect(res.headers.get('content-type')).toBe('text/plain;charset=UTF-8');
    expect(Date.parse(res.headers.get('date')!)).toBeGreaterThan(Date.now() - 60_000);
    expect(seen).toBeInstanceOf(Request);
    expect(seen!.method).toBe('GET');
    expect(seen!.url).toBe(`http://127.0.0.1:${port}/path/x?q=1`);
    expect(seen!.headers.get('x-test')).toBe('yes');
    expect(seen!.body).toBeNull();
    expect(remote).toBe('127.0.0.1');
  });

  it('accepts the global Response too, with its status, statusText and repeated headers', async () => {
    const port = await start(() => {
      const headers = new Headers({ 'x-one': '1' });
      headers.append('set-cookie', 'a=1');
      headers.append('set-cookie', 'b=2');
      return new Response(new Uint8Array([104, 105]), { status: 201, statusText: 'Made', headers });
    });
    const c = await client(port);
    c.send(request('GET', '/'));
    const res = await c.response();
    expect(res.statusLine).toBe('HTTP/1.1 201 Made');
    expect(res.body.toString()).toBe('hi');
    expect(res.headers['x-one']).toBe('1');
    expect(res.raw.filter((l) => l.toLowerCase().startsWith('set-cookie'))).toEqual([
      'set-cookie: a=1',
      'set-cookie: b=2',
    ]);
  });

  it('reads request bodies with text(), json(), bytes() and as a stream, Content-Length or chunked', async () => {
    const port = await start(async (req) => {
      const kind = new URL(req.url).pathname;
      if (kind === '/json') return FastResponse.json({ got: await req.json() });
      if (kind === '/bytes') return new FastResponse(String(new Uint8Array(await req.arrayBuffer()).length));
      if (kind === '/stream') {
        const parts: number[] = [];
        for await (const piece of req.body!) parts.push(piece.length);
        return new FastResponse(`${parts.reduce((a, b) => a + b, 0)}`);
      }
      return new FastResponse(`[${await req.text()}]`);
    });
    const base = `http://127.0.0.1:${port}`;
    expect(await (await fetch(`${base}/text`, { method: 'POST', body: 'héllo' })).text()).toBe('[héllo]');
    const json = await fetch(`${base}/json`, { method: 'POST', body: '{"a":[1,2]}' });
    expect(json.headers.get('content-type')).toBe('application/json');
    expect(await json.json()).toEqual({ got: { a: [1, 2] } });
    const big = new Uint8Array(300_000).fill(7);
    expect(await (await fetch(`${base}/bytes`, { method: 'PUT', body: big })).text()).toBe('300000');
    // A streamed upload: undici sends it chunked.
    const upload = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 5; i++) controller.enqueue(new Uint8Array(1000).fill(i));
        controller.close();
      },
    });
    const streamed = await fetch(`${base}/stream`, {
      method: 'POST',
      body: upload,
      duplex: 'half',
    } as RequestInit);
    expect(await streamed.text()).toBe('5000');
    // Chunked on the wire, with an extension and a trailer.
    const c = await client(port);
    c.send(
      'POST /text HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n' +
        '3;name=value\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Trailer: 1\r\n\r\n',
    );
    expect((await c.response()).body.toString()).toBe('[abcdefg]');
  });

  it('streams a ReadableStream response chunked, flushing each piece as it is produced', async () => {
    const produced = new Event();
    const received = new Event();
    const port = await start(
      () =>
        new FastResponse(
          new ReadableStream<Uint8Array>({
            async pull(controller) {
              if (!produced.isSet()) {
                controller.enqueue(new TextEncoder().encode('first,'));
                produced.set();
                return;
              }
              await received.wait(3000);
              controller.enqueue(new TextEncoder().encode('second'));
              controller.close();
            },
          }),
        ),
    );
    const c = await client(port);
    c.send(request('GET', '/'));
    // The first piece reaches the client while the handler's stream is still open.
    await until(() => c.pending.includes('first,'), 'the first piece');
    expect(c.pending.toString()).toContain('transfer-encoding: chunked');
    received.set();
    const res = await c.response();
    expect(res.body.toString()).toBe('first,second');
  });

  it('sends a stream with a declared Content-Length as is, and HTTP/1.0 clients a close-delimited body', async () => {
    const port = await start((req) => {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new Uint8Array([65, 66]));
          controller.enqueue(new Uint8Array([67]));
          controller.close();
        },
      });
      const declared = new URL(req.url).pathname === '/declared';
      return new FastResponse(body, declared ? { headers: { 'content-length': '3' } } : undefined);
    });
    const a = await client(port);
    a.send(request('GET', '/declared'));
    const declared = await a.response();
    expect(declared.headers['content-length']).toBe('3');
    expect(declared.headers['transfer-encoding']).toBeUndefined();
    expect(declared.body.toString()).toBe('ABC');
    const b = await client(port);
    b.send('GET /old HTTP/1.0\r\n\r\n');
    const old = await b.response();
    expect(old.headers['transfer-encoding']).toBeUndefined();
    expect(old.body.toString()).toBe('ABC');
    await b.waitEnd();
  });

  it('applies backpressure to a streamed response: production stalls while the client does not read', async () => {
    let produced = 0;
    let cancelled = false;
    const chunk = new Uint8Array(256 * 1024);
    const port = await start(
      () =>
        new FastResponse(
          new ReadableStream<Uint8Array>(
            {
              pull(controller) {
                produced += chunk.length;
                controller.enqueue(chunk);
              },
              cancel() {
                cancelled = true;
              },
            },
            { highWaterMark: 0 },
          ),
        ),
    );
    const c = await client(port);
    c.socket.pause(); // the client reads nothing
    c.send(request('GET', '/'));
    await sleep(400);
    const stalledAt = produced;
    await sleep(200);
    expect(produced).toBe(stalledAt); // no progress while nobody reads
    expect(produced).toBeLessThan(64 * 1024 * 1024);
    c.close();
    await until(() => cancelled, 'the stream to be cancelled once the client left');
  });

  it('keeps connections alive, answers pipelined requests in order, and honours Connection: close', async () => {
    const port = await start(async (req) => {
      const path = new URL(req.url).pathname;
      if (path === '/slow') await sleep(50);
      return new FastResponse(path);
    });
    const c = await client(port);
    c.send(request('GET', '/slow') + request('GET', '/a') + request('GET', '/b'));
    expect((await c.response()).body.toString()).toBe('/slow');
    expect((await c.response()).body.toString()).toBe('/a');
    expect((await c.response()).body.toString()).toBe('/b');
    c.send(request('GET', '/last', { headers: ['Connection: close'] }));
    const last = await c.response();
    expect(last.headers.connection).toBe('close');
    await c.waitEnd();
  });

  it('talks HTTP/1.0: closes by default, keeps alive when asked', async () => {
    const port = await start(() => new FastResponse('ok'));
    const a = await client(port);
    a.send('GET / HTTP/1.0\r\n\r\n');
    const first = await a.response();
    expect(first.statusLine).toBe('HTTP/1.1 200 OK');
    expect(first.body.toString()).toBe('ok');
    await a.waitEnd();
    const b = await client(port);
    b.send('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    expect((await b.response()).headers.connection).toBe('keep-alive');
    b.send('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    expect((await b.response()).body.toString()).toBe('ok');
  });

  it('answers HEAD with the length of the body it would send, and no body', async () => {
    const port = await start(() => new FastResponse('twelve bytes'));
    const c = await client(port);
    c.send(request('HEAD', '/'));
    const res = await c.response({ head: true });
    expect(res.headers['content-length']).toBe('12');
    c.send(request('GET', '/'));
    expect((await c.response()).body.toString()).toBe('twelve bytes'); // nothing stray was sent
  });

  it('answers Expect: 100-continue only when the handler reads the body', async () => {
    const port = await start(async (req) => {
      if (new URL(req.url).pathname === '/read') return new FastResponse(`got ${await req.text()}`);
      return new FastResponse('not read', { status: 403 });
    });
    const c = await client(port);
    c.send(request('POST', '/read', { headers: ['Expect: 100-continue', 'Content-Length: 4'] }));
    const interim = await c.response({ interim: true });
    expect(interim.status).toBe(100);
    c.send('data');
    expect((await c.response()).body.toString()).toBe('got data');

    const d = await client(port);
    d.send(request('POST', '/refuse', { headers: ['Expect: 100-continue', 'Content-Length: 4'] }));
    const refused = await d.response({ interim: true });
    expect(refused.status).toBe(403); // no 100 Continue before it
    expect(refused.headers.connection).toBe('close');
    await d.waitEnd();
  });

  it('drains a small unread request body and keeps the connection; closes after a large one', async () => {
    const port = await start(() => new FastResponse('ignored your body'));
    const c = await client(port);
    c.send(request('POST', '/', { body: 'x'.repeat(1000) }));
    expect((await c.response()).headers.connection).toBeUndefined();
    c.send(request('GET', '/again'));
    expect((await c.response()).status).toBe(200);

    const d = await client(port);
    d.send(request('POST', '/', { headers: [`Content-Length: ${4 * 1024 * 1024}`] }));
    d.send(Buffer.alloc(64 * 1024));
    const res = await d.response();
    expect(res.headers.connection).toBe('close');
    await d.waitEnd();
  });

  it('turns a throwing handler, or one returning no Response, into a 500 and keeps serving', async () => {
    const port = await start((req) => {
      const path = new URL(req.url).pathname;
      if (path === '/throw') throw new Error('handler bug');
      if (path === '/reject') return Promise.reject(new TypeError('async bug'));
      if (path === '/nothing') return 'not a response' as unknown as Response;
      return new FastResponse('fine');
    });
    const c = await client(port);
    for (const path of ['/throw', '/reject', '/nothing']) {
      c.send(request('GET', path));
      expect((await c.response()).status).toBe(500);
    }
    c.send(request('GET', '/'));
    expect((await c.response()).body.toString()).toBe('fine');
    expect(errors.map((e) => (e.error as Error).message)).toEqual([
      'handler bug',
      'async bug',
      'the fetch handler must return a Response, got string',
    ]);
    expect(errors[0]!.context).toMatch(/^handler:127\.0\.0\.1:\d+#\d+ fetch handler$/);
  });

  it('never writes a response header holding CR, LF or NUL: a 500 goes out instead', async () => {
    const values = ['a\r\nset-cookie: evil=1', 'a\nx-evil: 1', 'a\0b'];
    const port = await start((req) => {
      const i = Number(new URL(req.url).searchParams.get('i'));
      if (i === 3) return new FastResponse('x', { headers: [['bad name', 'v']] });
      return new FastResponse('x', { headers: { 'x-value': values[i]! } });
    });
    const c = await client(port);
    for (let i = 0; i <= 3; i++) {
      c.send(request('GET', `/?i=${i}`));
      const res = await c.response();
      expect(res.status).toBe(500);
      expect(res.raw.join('\n')).not.toMatch(/evil|x-value|bad name/);
    }
    expect(errors).toHaveLength(4);
    expect(errors.every((e) => (e.error as { code?: string }).code === 'ERR_HTTP_INVALID_RESPONSE')).toBe(
      true,
    );
  });

  it('aborts request.signal when the client goes away mid-request', async () => {
    let aborted = false;
    const started = new Event();
    const port = await start(async (req) => {
      req.signal.addEventListener('abort', () => {
        aborted = true;
      });
      started.set();
      const gone = new Event();
      req.signal.addEventListener('abort', () => gone.set());
      await gone.wait(3000);
      return new FastResponse('too late');
    });
    const c = await client(port);
    c.send(request('GET', '/'));
    await started.wait(3000);
    expect(aborted).toBe(false);
    c.close();
    await until(() => aborted, 'request.signal to abort');
  });

  it('reports nothing when a handler gives up through request.signal because the client left', async () => {
    const lines: string[] = [];
    const started = new Event();
    let gaveUp: unknown;
    const port = await start(
      async (req) => {
        started.set();
        try {
          await sleep(5000, { signal: req.signal });
        } catch (err) {
          gaveUp = err;
          throw err;
        }
        return new FastResponse('too late');
      },
      { log: (line) => lines.push(line) },
    );
    const c = await client(port);
    c.send(request('GET', '/'));
    await started.wait(3000);
    c.close();
    await until(() => lines.length === 1, 'the access-log line');
    expect((gaveUp as Error).name).toBe('AbortError');
    expect(lines[0]).toMatch(/"GET \/ HTTP\/1\.1" 499 - /);
    expect(errors).toEqual([]);
  });

  it('closes an idle keep-alive connection after keepAliveTimeout', async () => {
    const port = await start(() => new FastResponse('ok'), { keepAliveTimeout: 150 });
    const c = await client(port);
    c.send(request('GET', '/'));
    await c.response();
    const t0 = performance.now();
    await c.waitEnd();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(100);
  });

  it('stops gracefully: idle connections close at once, requests in flight finish, then stop() returns', async () => {
    const inFlight = new Event();
    const server = await serve({
      port: 0,
      fetch: async (req) => {
        if (new URL(req.url).pathname === '/slow') {
          inFlight.set();
          await sleep(1000);
        }
        return new FastResponse('done');
      },
    });
    servers.push(server);
    const port = server.address.port;
    const idle = await client(port);
    idle.send(request('GET', '/'));
    await idle.response();
    const busy = await client(port);
    busy.send(request('GET', '/slow'));
    await inFlight.wait(3000);
    const t0 = performance.now();
    let stopped = false;
    const stopping = server.stop(5000).then(() => {
      stopped = true;
    });
    await idle.waitEnd();
    expect(performance.now() - t0).toBeLessThan(600); // closed at once, not after the slow request (1 s)
    expect(stopped).toBe(false);
    const last = await busy.response();
    expect(last.body.toString()).toBe('done');
    expect(last.headers.connection).toBe('close');
    await busy.waitEnd();
    await stopping;
    expect(server.connectionCount).toBe(0);
    await expect(RawClient.connect(port, 500)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('kills requests still running when stop(timeout) runs out', async () => {
    let killed: unknown;
    const started = new Event();
    const server = await serve({
      port: 0,
      fetch: async () => {
        started.set();
        try {
          await sleep(10_000);
        } catch (err) {
          killed = err;
          throw err;
        }
        return new FastResponse('never');
      },
    });
    await stopMidRequest(server, started);
    expect(killed).toBeInstanceOf(GreenletExit);
  });

  it('aborts request.signal when stop() kills the handler, so a handler on a plain promise ends too', async () => {
    const started = new Event();
    let reason: unknown;
    const server = await serve({
      port: 0,
      fetch: (req) =>
        new Promise<Response>((_, reject) => {
          started.set();
          req.signal.addEventListener('abort', () => {
            reason = req.signal.reason;
            reject(req.signal.reason);
          });
        }),
    });
    await stopMidRequest(server, started);
    expect(reason).toBeInstanceOf(GreenletExit);
    expect(server.handlerCount).toBe(0);
    expect(errors).toEqual([]);
  });

  it('writes a pywsgi-style access-log line per request when asked', async () => {
    const lines: string[] = [];
    const port = await start(() => new FastResponse('12345'), { log: (line) => lines.push(line) });
    const c = await client(port);
    c.send(request('GET', '/logged?x=1'));
    await c.response();
    c.send(request('POST', '/p', { body: 'abc' }));
    await c.response();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^127\.0\.0\.1 - - \[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] "GET \/logged\?x=1 HTTP\/1\.1" 200 5 \d+\.\d{6}$/,
    );
    expect(lines[1]).toMatch(/"POST \/p HTTP\/1\.1" 200 5 /);
  });

  it('works with curl: GET, POST and a 100-continue upload', async () => {
    const port = await start(async (req) => {
      if (req.method === 'POST')
        return new FastResponse(`len=${new Uint8Array(await req.arrayBuffer()).length}`);
      return new FastResponse(`hello ${req.headers.get('user-agent')?.split('/')[0]}`);
    });
    const url = `http://127.0.0.1:${port}/`;
    expect(await curl([url])).toBe('hello curl');
    expect(await curl(['--data-binary', 'abcdef', url])).toBe('len=6');
    // curl sends Expect: 100-continue for bodies over 1 MiB and waits for our 100 before the body.
    const big = join(dir, 'upload.bin');
    writeFileSync(big, Buffer.alloc(2 * 1024 * 1024, 1));
    const out = await curl(['-v', '--data-binary', `@${big}`, url]).catch((e) => String(e));
    expect(out).toBe(`len=${2 * 1024 * 1024}`);
  });

  it('serves HTTPS with the tls option; request.url says https', async () => {
    let url = '';
    const port = await start(
      (req) => {
        url = req.url;
        return new FastResponse('secure');
      },
      { tls: { key, cert } },
    );
    const body = await new Promise<string>((resolve, reject) => {
      const req = https.get({ host: '127.0.0.1', port, path: '/s', ca: cert, timeout: 3000 }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
    });
    expect(body).toBe('secure');
    expect(url).toBe(`https://127.0.0.1:${port}/s`);
  });

  it('is a StreamServer with handler greenlets named after the peer', async () => {
    let name = '';
    const server = new HttpServer({ port: 0 }, () => {
      name = getcurrent().name;
      return new FastResponse('');
    });
    servers.push(server);
    expect(server).toBeInstanceOf(StreamServer);
    await server.start();
    const res = await fetch(`http://127.0.0.1:${server.address.port}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    expect(name).toMatch(/^handler:127\.0\.0\.1:\d+#\d+$/);
  });

  it('refuses bad arguments with coded errors', () => {
    expect(() => new HttpServer({ port: 0 }, 'nope' as unknown as FetchHandler)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    for (const bad of [0, -1, Number.NaN, '10']) {
      expect(
        () => new HttpServer({ port: 0 }, () => new FastResponse(''), { maxHeaderBytes: bad as number }),
      ).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    }
    expect(
      () => new HttpServer({ port: 0 }, () => new FastResponse(''), { log: 'yes' as unknown as boolean }),
    ).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describeEachHub('FastResponse and the incoming Request', () => {
  it('is a Response: instanceof, statics, and every member once materialised', async () => {
    const r = new FastResponse('body text', { status: 202, headers: { 'x-a': '1' } });
    expect(r).toBeInstanceOf(Response);
    expect(r.status).toBe(202);
    expect(r.ok).toBe(true);
    expect(r.headers.get('x-a')).toBe('1');
    expect(r.headers.get('content-type')).toBe('text/plain;charset=UTF-8');
    expect(await r.text()).toBe('body text');
    expect(r.bodyUsed).toBe(true);
    expect(await FastResponse.json({ a: 1 }).json()).toEqual({ a: 1 });
    expect(FastResponse.redirect('http://x.test/', 307).status).toBe(307);
    expect(() => new FastResponse('x', { status: 204 })).toThrow(TypeError);
    expect(() => new FastResponse('x', { status: 99 })).toThrow(RangeError);
    expect(Object.prototype.toString.call(r)).toBe('[object Response]');
  });

  it('gives handlers a Request whose other members work too: clone(), formData(), cache', async () => {
    const servers: HttpServer[] = [];
    try {
      const seen: unknown[] = [];
      const server = await serve({
        port: 0,
        fetch: async (req) => {
          const copy = req.clone();
          const form = await req.formData();
          seen.push(form.get('name'), await copy.text(), req.cache, req.bodyUsed);
          return new FastResponse('ok');
        },
      });
      servers.push(server);
      const res = await fetch(`http://127.0.0.1:${server.address.port}/form`, {
        method: 'POST',
        body: new URLSearchParams({ name: 'gevent' }),
      });
      expect(await res.text()).toBe('ok');
      expect(seen).toEqual(['gevent', 'name=gevent', 'default', true]);
    } finally {
      for (const s of servers) await s.stop();
    }
  });
});
