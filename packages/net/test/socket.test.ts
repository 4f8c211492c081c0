import * as nodeNet from 'node:net';
import { Duplex } from 'node:stream';
import { configure, Greenlet, GreenletExit, idle, sleep, spawn, Timeout } from '@greenhub/core';
import { describeEachHub } from '@greenhub/core/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { connect } from '../src/connect.js';
import { ConcurrentUse, IncompleteRead } from '../src/errors.js';
import type { Socket } from '../src/socket.js';
import { caught, moreThanKernelBuffers, socketPair, text } from './sockets-helpers.js';

const codeOf = (err: unknown): unknown => (err as { code?: unknown } | undefined)?.code;

/** Write `total` bytes (a counting pattern) from a greenlet; return it. */
function sendPattern(sock: Socket, total: number, chunk = 16 * 1024) {
  return spawn(async () => {
    for (let sent = 0; sent < total; sent += chunk) {
      const n = Math.min(chunk, total - sent);
      const buf = new Uint8Array(n);
      for (let i = 0; i < n; i++) buf[i] = (sent + i) & 0xff;
      await sock.write(buf);
    }
    await sock.end();
  });
}

/** Run `use` on a socket connected to a node:net server that sends `text`, then resets the connection. */
async function withResettingPeer(text: string, use: (sock: Socket) => Promise<void>): Promise<void> {
  const server = nodeNet.createServer((conn) => {
    conn.write(text, () => setTimeout(() => conn.resetAndDestroy(), 10));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await using sock = await connect({ port: (server.address() as nodeNet.AddressInfo).port });
    await use(sock);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

describeEachHub('Socket', () => {
  let open: Socket[] = [];
  async function pair(): Promise<[Socket, Socket]> {
    const p = await socketPair();
    open.push(...p);
    return p;
  }
  beforeEach(() => {
    configure({ onError: () => {} });
    open = [];
  });
  afterEach(() => {
    for (const s of open) s.close();
    configure({ onError: undefined });
  });

  it('write() and read() carry bytes both ways; read() returns null at end of stream', async () => {
    const [a, b] = await pair();
    await a.write('hello');
    expect(text(await b.read())).toBe('hello');
    await b.write(new Uint8Array([1, 2, 3]));
    expect([...((await a.read()) ?? [])]).toEqual([1, 2, 3]);
    await a.end();
    expect(await b.read()).toBeNull();
    expect(await b.read()).toBeNull();
  });

  it('end() half-closes: the other direction keeps working; a second end() is harmless', async () => {
    const [a, b] = await pair();
    await a.write('request');
    await a.end();
    await a.end();
    expect(text(await b.readExactly(7))).toBe('request');
    expect(await b.read()).toBeNull();
    await b.write('reply');
    await b.end();
    expect(text(await a.readExactly(5))).toBe('reply');
    expect(await a.read()).toBeNull();
    expect(codeOf(await caught(a.write('more')))).toBe('ERR_STREAM_WRITE_AFTER_END');
  });

  it('read(maxBytes) returns at most maxBytes and leaves the rest buffered', async () => {
    const [a, b] = await pair();
    await a.write('abcdef');
    expect(text(await b.readExactly(1))).toBe('a');
    expect(text(await b.read(2))).toBe('bc');
    expect(text(await b.read(100))).toBe('def');
  });

  it('readExactly() gathers across chunks, and throws IncompleteRead with the partial bytes at early end', async () => {
    const [a, b] = await pair();
    const g = spawn(() => b.readExactly(10));
    for (const part of ['abc', 'defg', 'hij', 'k']) {
      await a.write(part);
      await sleep(1);
    }
    expect(text(await g.get())).toBe('abcdefghij');
    await a.end();
    const err = await caught(b.readExactly(5));
    expect(err).toBeInstanceOf(IncompleteRead);
    expect(codeOf(err)).toBe('ERR_INCOMPLETE_READ');
    expect(text((err as IncompleteRead).partial)).toBe('k');
    expect((err as IncompleteRead).expected).toBe(5);
    expect(text(await b.readExactly(0))).toBe('');
  });

  it('readUntil() returns up to and including the delimiter; over maxBytes throws ERR_LIMIT_OVERRUN; early end throws IncompleteRead', async () => {
    const [a, b] = await pair();
    const g = spawn(() => b.readUntil('\r\n\r\n'));
    await a.write('GET / HTTP/1.1\r\nHost: x\r');
    await sleep(1);
    await a.write('\n\r\nbody');
    expect(text(await g.get())).toBe('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await a.write('0123456789');
    await sleep(1);
    const over = await caught(b.readUntil('|', { maxBytes: 8 }));
    expect(codeOf(over)).toBe('ERR_LIMIT_OVERRUN');
    // the bytes stay buffered
    expect(text(await b.readUntil(new Uint8Array([0x35])))).toBe('body012345');
    await a.end();
    const err = await caught(b.readUntil('|'));
    expect(err).toBeInstanceOf(IncompleteRead);
    expect(text((err as IncompleteRead).partial)).toBe('6789');
    expect((err as IncompleteRead).expected).toBe(5);
  });

  it('readUntil() with a limit above the read buffer keeps reading past its high-water mark', async () => {
    const [a, b] = await pair();
    const big = 'x'.repeat(300_000);
    const g = spawn(() => b.readUntil('!', { maxBytes: 1_000_000 }));
    await a.write(big);
    await a.write('!rest');
    expect((await g.get()).length).toBe(300_001);
    expect(text(await b.read())).toBe('rest');
  });

  it('readLine() strips \\n and \\r\\n, returns a last unterminated line, then null', async () => {
    const [a, b] = await pair();
    await a.write('one\ntwo\r\n\nthré');
    await a.write('e\nlast');
    await a.end();
    const lines: (string | null)[] = [];
    for (let i = 0; i < 6; i++) lines.push(await b.readLine());
    expect(lines).toEqual(['one', 'two', '', 'thrée', 'last', null]);
  });

  it('async iteration yields every chunk until end of stream', async () => {
    const [a, b] = await pair();
    const sender = sendPattern(a, 200_000);
    let total = 0;
    let ok = true;
    for await (const chunk of b) {
      for (let i = 0; i < chunk.length; i++) if (chunk[i] !== ((total + i) & 0xff)) ok = false;
      total += chunk.length;
    }
    await sender.get();
    expect(total).toBe(200_000);
    expect(ok).toBe(true);
  });

  it('async iteration: a step that waits is woken with its chunk; Timeout, kill and close end it, and no byte is lost', async () => {
    const [a, b] = await pair();
    // woken by data: each chunk is yielded once, in order
    const seen: string[] = [];
    const reader = spawn(async () => {
      for await (const chunk of b) {
        seen.push(text(chunk)!);
        if (seen.length === 2) break;
      }
    });
    await idle();
    expect(reader.waitingOn).toBe('socket read');
    await a.write('one');
    await sleep(5);
    await a.write('two');
    await reader.get();
    expect(seen).toEqual(['one', 'two']);

    // a Timeout ends the iteration; data that comes later is kept for the next read
    b.timeout = 20;
    const timedOut = await caught(
      (async () => {
        for await (const _ of b) throw new Error('nothing was sent');
      })(),
    );
    expect(timedOut).toBeInstanceOf(Timeout);
    b.timeout = 2000; // a lost byte fails fast
    await a.write('after the timeout');
    await sleep(10); // it arrives while nobody reads
    expect(text(await b.read())).toBe('after the timeout');

    // kill(): the greenlet ends, and the socket can be read again at once (no ConcurrentUse)
    const killed = spawn(async () => {
      for await (const _ of b) throw new Error('nothing was sent');
    });
    await idle();
    expect(killed.waitingOn).toBe('socket read');
    await killed.kill();
    expect(killed.value).toBeInstanceOf(GreenletExit);
    await a.write('after the kill');
    await sleep(10);
    expect(text(await b.read())).toBe('after the kill');

    // a second reader while one iterates gets ConcurrentUse; close() ends the iteration
    const iterating = spawn(async () => {
      for await (const _ of b) throw new Error('nothing was sent');
    });
    await idle();
    expect(await caught(b.read())).toBeInstanceOf(ConcurrentUse);
    b.close();
    expect(codeOf(await caught(iterating.get()))).toBe('ERR_SOCKET_CLOSED');
  });

  it('async iteration yields what came before a reset, then throws ECONNRESET', async () => {
    await withResettingPeer('before', async (a) => {
      let got = '';
      const err = await caught(
        (async () => {
          for await (const chunk of a) got += text(chunk);
        })(),
      );
      expect(got).toBe('before');
      expect(codeOf(err)).toBe('ECONNRESET');
    });
  });

  it('backpressure: a writer to a peer that does not read blocks in write() (kind "socket write") until the peer reads', async () => {
    const [a, b] = await pair();
    const total = 8 * 1024 * 1024;
    const sender = sendPattern(a, total, 256 * 1024);
    let blocked = false;
    for (let i = 0; i < 200 && !blocked; i++) {
      await sleep(5);
      blocked = sender.waitingOn === 'socket write';
    }
    expect(blocked).toBe(true);
    let got = 0;
    for (let chunk = await b.read(); chunk; chunk = await b.read()) got += chunk.length;
    expect(got).toBe(total);
    await sender.get();
  });

  it('timeout bounds each read wait with a Timeout; the socket stays usable', async () => {
    const [a, b] = await pair();
    b.timeout = 20;
    const started = Date.now();
    const err = await caught(b.read());
    expect(err).toBeInstanceOf(Timeout);
    expect(codeOf(err)).toBe('ETIMEDOUT');
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
    await a.write('late');
    expect(text(await b.read())).toBe('late');
  });

  it('timeout bounds a write waiting for the queue to drain', async () => {
    const [a] = await pair();
    a.timeout = 30;
    const err = await caught(a.write(new Uint8Array(8 * 1024 * 1024)));
    expect(err).toBeInstanceOf(Timeout);
  });

  it('kill() interrupts a blocked read (kind "socket read")', async () => {
    const [, b] = await pair();
    const g = spawn(() => b.read());
    await idle();
    expect(g.waitingOn).toBe('socket read');
    await g.kill();
    expect(g.value).toBeInstanceOf(GreenletExit);
  });

  it('a second concurrent reader, or writer, gets ConcurrentUse (ERR_CONCURRENT_USE)', async () => {
    const [a, b] = await pair();
    const reader = spawn(() => b.readLine());
    await idle();
    const err = await caught(b.read());
    expect(err).toBeInstanceOf(ConcurrentUse);
    expect(codeOf(err)).toBe('ERR_CONCURRENT_USE');
    expect(codeOf(await caught(b.readExactly(1)))).toBe('ERR_CONCURRENT_USE');
    await a.write('line\n');
    expect(await reader.get()).toBe('line');

    // a writer blocked on a full queue
    const writer = spawn(() => a.write(new Uint8Array(4 * 1024 * 1024)));
    await idle();
    expect(writer.waitingOn).toBe('socket write');
    expect(await caught(a.write('x'))).toBeInstanceOf(ConcurrentUse);
    expect(await caught(a.end())).toBeInstanceOf(ConcurrentUse);
    b.close();
    a.close();
    await writer.join();
  });

  it('close() wakes every greenlet blocked on the socket with ERR_SOCKET_CLOSED, resolves closed, and is idempotent', async () => {
    const [a, b] = await pair();
    const reader = spawn(() => a.read());
    const writer = spawn(() => a.write(new Uint8Array(4 * 1024 * 1024)));
    await idle();
    expect(reader.waitingOn).toBe('socket read');
    expect(writer.waitingOn).toBe('socket write');
    let closed = false;
    void a.closed.then(() => {
      closed = true;
    });
    a.close();
    a.close();
    expect(codeOf(await caught(reader.get()))).toBe('ERR_SOCKET_CLOSED');
    expect(codeOf(await caught(writer.get()))).toBe('ERR_SOCKET_CLOSED');
    await a.closed;
    expect(closed).toBe(true);
    expect(codeOf(await caught(a.read()))).toBe('ERR_SOCKET_CLOSED');
    expect(codeOf(await caught(a.write('x')))).toBe('ERR_SOCKET_CLOSED');
    expect(codeOf(await caught(a.end()))).toBe('ERR_SOCKET_CLOSED');
    // the peer sees end of stream (or a reset, as a close with unread data may send one)
    const drained = await caught(
      (async () => {
        while ((await b.read()) !== null);
      })(),
    );
    expect([undefined, 'ECONNRESET']).toContain(codeOf(drained));
  });

  it('writing to a peer that closed fails with the hub error (EPIPE or ECONNRESET)', async () => {
    const [a, b] = await pair();
    b.close();
    let err: unknown;
    for (let i = 0; i < 200 && err === undefined; i++) {
      err = await caught(a.write(new Uint8Array(1024)));
      if (err === undefined) await sleep(2);
    }
    expect(['EPIPE', 'ECONNRESET']).toContain(codeOf(err));
  });

  it('a writer that never waits learns that the peer is gone instead of writing into the void', async () => {
    const [a, b] = await pair();
    b.close();
    await sleep(10);
    const small = new Uint8Array(64);
    let writes = 0;
    const err = await caught(
      (async () => {
        // Most writes need not wait; the socket must still make this loop fail, and soon.
        for (; writes < 1_000_000; writes++) await a.write(small);
      })(),
    );
    expect(['EPIPE', 'ECONNRESET']).toContain(codeOf(err));
    expect(writes).toBeLessThan(10_000);
  });

  it('end() after small writes to a peer that is gone rejects with EPIPE or ECONNRESET', async () => {
    const [a, b] = await pair();
    b.close();
    await sleep(20);
    // Small writes may all return (they are confirmed in batches); end() must not.
    for (let i = 0; i < 3; i++) {
      await caught(a.write('x'.repeat(100)));
      await sleep(10);
    }
    expect(['EPIPE', 'ECONNRESET']).toContain(codeOf(await caught(a.end())));
  });

  it('a reset by the peer rejects the blocked read with ECONNRESET, after the bytes received before it', async () => {
    await withResettingPeer('for a', async (a) => {
      expect(text(await a.readExactly(5))).toBe('for a');
      expect(codeOf(await caught(a.read()))).toBe('ECONNRESET');
    });
  });

  it('a socket is neither a thenable nor left open by `await using`', async () => {
    const [a] = await pair();
    expect('then' in a).toBe(false);
    {
      await using s = a;
      expect(s).toBe(a);
    }
    expect(codeOf(await caught(a.read()))).toBe('ERR_SOCKET_CLOSED');
  });

  it('setNoDelay / setKeepAlive do not throw, even after close', async () => {
    const [a] = await pair();
    a.setNoDelay();
    a.setNoDelay(false);
    a.setKeepAlive(true, 1000);
    a.close();
    a.setNoDelay();
    a.setKeepAlive(false);
  });

  it('readable / writable are WHATWG streams over the same reads and writes', async () => {
    const [a, b] = await pair();
    expect(a.readable).toBeInstanceOf(ReadableStream);
    expect(a.readable).toBe(a.readable);
    const w = a.writable.getWriter();
    await w.write(new TextEncoder().encode('web '));
    await w.write(new TextEncoder().encode('streams'));
    await w.close(); // end()
    expect(await new Response(b.readable).text()).toBe('web streams');
  });

  it('cancelling the readable closes the socket; aborting the writable too', async () => {
    const [a, b] = await pair();
    await a.readable.cancel();
    await a.closed;
    await b.writable.abort(new Error('stop'));
    await b.closed;
  });

  it('toNodeStream() is a node Duplex over the socket', async () => {
    const [a, b] = await pair();
    const duplex = a.toNodeStream();
    expect(duplex).toBeInstanceOf(Duplex);
    const chunks: Buffer[] = [];
    const ended = new Promise<void>((resolve) => duplex.on('end', resolve));
    duplex.on('data', (d: Buffer) => chunks.push(d));
    duplex.write('from node ');
    duplex.end('stream');
    expect(text(await b.readExactly(16))).toBe('from node stream');
    expect(await b.read()).toBeNull();
    await b.write('back');
    await b.end();
    await ended;
    expect(Buffer.concat(chunks).toString()).toBe('back');
    // both sides done: the Duplex destroys itself (autoDestroy), which closes the socket
    duplex.destroy();
    await a.closed;
    expect(duplex.destroyed).toBe(true);
  });

  it('toNodeStream() acts like a net.Socket for drivers: not half-open, closes when the peer ends', async () => {
    const [a, b] = await pair();
    const duplex = a.toNodeStream();
    const events: string[] = [];
    for (const e of ['connect', 'ready', 'end', 'finish', 'close']) duplex.on(e, () => events.push(e));
    expect(duplex.allowHalfOpen).toBe(false);
    const like = duplex as unknown as Record<string, unknown> & { connect(): unknown; setNoDelay(): unknown };
    expect(like.remotePort).toBe(a.remoteAddress.port);
    expect(like.localAddress).toBe('127.0.0.1');
    expect(like.setNoDelay()).toBe(duplex);
    expect(like.connect()).toBe(duplex);
    duplex.resume();
    await b.end(); // the peer leaves without a word
    for (let i = 0; i < 200 && !events.includes('close'); i++) await sleep(5);
    expect(events).toEqual(['connect', 'ready', 'end', 'finish', 'close']);
    await a.closed;
    b.close();

    // allowHalfOpen: true keeps the writable side for a reply after the peer's end.
    const [c, d] = await pair();
    const half = c.toNodeStream({ allowHalfOpen: true });
    const ended = new Promise<void>((resolve) => half.on('end', resolve));
    half.resume();
    await d.end();
    await ended;
    half.end('late reply');
    expect(text(await d.readExactly(10))).toBe('late reply');
    half.destroy();
    d.close();
  });

  it('toNodeStream() keeps flowing when a greenlet using it is killed or a Timeout fires on main', async () => {
    const [a, b] = await pair();
    const duplex = a.toNodeStream();
    const received: Buffer[] = [];
    duplex.on('data', (d: Buffer) => received.push(d));
    // More than the kernel's buffers can ever take, so the write is still in flight when its user
    // dies. (4 MiB was not: with tcp_rmem's 32 MiB ceiling, autotuning sometimes took it all.)
    const big = Buffer.alloc(moreThanKernelBuffers(), 0x61);
    let firstWrite: unknown = 'pending';
    const user = spawn(async () => {
      duplex.write(big, (err) => {
        firstWrite = err ?? null;
      });
      await sleep(10_000);
    });
    await sleep(20);
    expect(firstWrite).toBe('pending');
    await user.kill();
    expect((await b.readExactly(big.length)).length).toBe(big.length);
    await sleep(10);
    expect(firstWrite).toBeNull();

    // Writing from main, then a Timeout fires on main while the bytes are still on their way.
    let secondWrite: unknown = 'pending';
    duplex.write(big, (err) => {
      secondWrite = err ?? null;
    });
    const timeout = Timeout.startNew(20);
    try {
      await sleep(1000);
    } catch (err) {
      expect(err).toBe(timeout);
    } finally {
      timeout.close();
    }
    expect((await b.readExactly(big.length)).length).toBe(big.length);
    await sleep(10);
    expect(secondWrite).toBeNull();
    await b.write('still here');
    for (let i = 0; i < 100 && Buffer.concat(received).toString() !== 'still here'; i++) await sleep(5);
    expect(Buffer.concat(received).toString()).toBe('still here');
    expect(duplex.destroyed).toBe(false);

    duplex.destroy();
    await a.closed;
    await sleep(5);
    expect(Greenlet._live().filter((g) => g.name.startsWith('node stream'))).toEqual([]);
  });

  it('closing the socket under toNodeStream() ends its greenlets and the Duplex', async () => {
    const [a, b] = await pair();
    // Half-open, so the Duplex's writable side outlives the end and a late write meets the closed socket.
    const duplex = a.toNodeStream({ allowHalfOpen: true });
    const ended = new Promise<void>((resolve) => duplex.on('end', resolve));
    duplex.resume();
    expect(Greenlet._live().filter((g) => g.name.startsWith('node stream')).length).toBe(2);
    await b.write('x');
    await sleep(5);
    a.close();
    await ended;
    await sleep(5);
    expect(Greenlet._live().filter((g) => g.name.startsWith('node stream'))).toEqual([]);
    duplex.on('error', () => {}); // the failed write also errors the Duplex
    const late = await new Promise<unknown>((resolve) => duplex.write('late', resolve));
    expect(codeOf(late)).toBe('ERR_SOCKET_CLOSED');
    duplex.destroy();
  });
});
