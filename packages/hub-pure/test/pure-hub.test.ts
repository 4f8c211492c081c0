import { once } from 'node:events';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { inspect } from 'node:util';
import type { Hub, Stream } from '@greenhub/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHub } from '../src/index.js';

interface Reported {
  error: unknown;
  context: string;
}

let hub: Hub;
let reported: Reported[];
let cleanups: Array<() => void>;

beforeEach(() => {
  reported = [];
  cleanups = [];
  hub = createHub({ onError: (error, context) => reported.push({ error, context }) });
});

afterEach(async () => {
  for (const fn of cleanups.reverse()) fn();
  try {
    if (!isClosed(hub)) {
      // Cancelled requests reach their callbacks from a later turn.
      await until(() => {
        const s = hub.stats();
        return s.active + s.referenced + s.open === 0;
      }, 1000).catch(() => undefined);
      expect(hub.stats()).toEqual({ active: 0, referenced: 0, open: 0 });
    }
    expect(reported).toEqual([]);
  } finally {
    hub.close();
  }
});

function isClosed(h: Hub): boolean {
  try {
    h.stats();
    return false;
  } catch {
    return true;
  }
}

function codeOf(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function until(done: () => boolean, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function connect(port: number): Promise<Stream> {
  return within(
    2000,
    new Promise((resolve, reject) => {
      hub.connect({ host: '127.0.0.1', port }, (err, stream) => (err ? reject(err) : resolve(stream!)));
    }),
  );
}

/** A hub listener and a hub client connected to it, closed after the test. */
async function pair(): Promise<{ client: Stream; server: Stream }> {
  const listener = hub.listen({});
  cleanups.push(() => listener.close());
  const accepted = new Promise<Stream>((resolve, reject) => listener.start(resolve, reject));
  const client = await connect(listener.address.port);
  const server = await within(2000, accepted);
  listener.close();
  cleanups.push(
    () => client.close(),
    () => server.close(),
  );
  return { client, server };
}

/** Read everything until EOF. */
function readAll(stream: Stream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    stream.readStart((chunk, err) => {
      if (err) reject(err);
      else if (chunk === null) resolve(Buffer.concat(chunks));
      else chunks.push(chunk);
    });
  });
}

function pattern(size: number): Buffer {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buf[i] = (i * 31 + 7) & 0xff;
  return buf;
}

describe('binding is synchronous', () => {
  it('listen() on a port in use throws EADDRINUSE at once and leaves process.nextTick as it was', () => {
    const nextTick = process.nextTick;
    const first = hub.listen({ host: '127.0.0.1', port: 0 });
    cleanups.push(() => first.close());
    const err = catchError(() => hub.listen({ host: '127.0.0.1', port: first.address.port }));
    expect(codeOf(err)).toBe('EADDRINUSE');
    expect(process.nextTick).toBe(nextTick);
    expect(hub.stats()).toEqual({ active: 0, referenced: 0, open: 1 });
  });

  it('listen() knows its address on return, with ipv6Only and a backlog', () => {
    const listener = hub.listen({ host: '::1', port: 0, ipv6Only: true, backlog: 8 });
    cleanups.push(() => listener.close());
    expect(listener.address.family).toBe('IPv6');
    expect(listener.address.address).toBe('::1');
    expect(listener.address.port).toBeGreaterThan(0);
  });

  it('listen() on a unix path in use throws EADDRINUSE at once', () => {
    const path = join(tmpdir(), `hub-pure-${process.pid}-${Date.now()}.sock`);
    cleanups.push(() => rmSync(path, { force: true }));
    const first = hub.listen({ path });
    cleanups.push(() => first.close());
    expect(first.address).toEqual({ address: path, port: 0, family: 'unix' });
    expect(codeOf(catchError(() => hub.listen({ path })))).toBe('EADDRINUSE');
  });

  it('listen() refuses a host name and, on Node without it, reusePort', () => {
    expect(codeOf(catchError(() => hub.listen({ host: 'localhost' })))).toBe('ERR_INVALID_IP_ADDRESS');
    const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
    if (major < 22 || (major === 22 && minor < 12)) {
      const err = catchError(() => hub.listen({ reusePort: true }));
      expect(codeOf(err)).toBe('ERR_NOT_SUPPORTED');
      expect(String(err)).toMatch(/reusePort/);
    }
  });

  it('udp() on a port in use throws EADDRINUSE at once', () => {
    const first = hub.udp({});
    cleanups.push(() => first.close());
    expect(first.address.port).toBeGreaterThan(0);
    expect(codeOf(catchError(() => hub.udp({ port: first.address.port })))).toBe('EADDRINUSE');
  });
});

describe('callbacks', () => {
  it('run in FIFO order, and cancel() keeps one from running', async () => {
    const order: number[] = [];
    for (let i = 0; i < 5; i++) {
      const handle = hub.callback(() => order.push(i));
      if (i === 2) handle.cancel();
    }
    expect(hub.stats()).toEqual({ active: 4, referenced: 4, open: 0 });
    await until(() => order.length === 4, 1000);
    expect(order).toEqual([0, 1, 3, 4]);
  });

  it('a callback scheduled by a callback runs on the next turn, after what Node queued meanwhile', async () => {
    const order: string[] = [];
    hub.callback(() => {
      order.push('first');
      setImmediate(() => order.push('node immediate'));
      hub.callback(() => order.push('second'));
    });
    await until(() => order.length === 3, 1000);
    expect(order).toEqual(['first', 'node immediate', 'second']);
  });

  it('a callback that reschedules itself forever does not starve timers', async () => {
    let spins = 0;
    let handle = hub.callback(function spin() {
      spins++;
      handle = hub.callback(spin);
    });
    await within(2000, new Promise((resolve) => setTimeout(resolve, 20)));
    handle.cancel();
    expect(spins).toBeGreaterThan(1);
  });

  it('an exception goes to onError with the context and does not stop the queue', async () => {
    let after = false;
    hub.callback(() => {
      throw new Error('boom');
    });
    hub.callback(() => {
      after = true;
    });
    await until(() => after, 1000);
    expect(reported.splice(0).map((r) => [r.context, String(r.error)])).toEqual([
      ['callback', 'Error: boom'],
    ]);
  });
});

describe('timers', () => {
  it('never fire early, against performance.now() or hub.now()', async () => {
    const delays = [1, 2, 3, 5, 8, 13, 21];
    const early: string[] = [];
    await Promise.all(
      delays.map(
        (ms) =>
          new Promise<void>((resolve) => {
            const timer = hub.timer(ms);
            const started = performance.now();
            const hubStarted = hub.now();
            timer.start(() => {
              const real = performance.now() - started;
              const cached = hub.now() - hubStarted;
              if (real < ms || cached < ms) early.push(`${ms} ms fired after ${real} (hub.now: ${cached})`);
              timer.close();
              resolve();
            });
          }),
      ),
    );
    expect(early).toEqual([]);
  });

  it('is not early when started after the loop turn has been busy for a while', async () => {
    const fired = new Promise<number>((resolve) => {
      setImmediate(() => {
        // Node measures timeouts from the loop time cached at the start of this turn.
        const busyUntil = performance.now() + 15;
        while (performance.now() < busyUntil);
        const timer = hub.timer(10);
        const started = performance.now();
        timer.start(() => {
          timer.close();
          resolve(performance.now() - started);
        });
      });
    });
    expect(await within(2000, fired)).toBeGreaterThanOrEqual(10);
  });

  it('a timer Node calls too soon waits, and timers due after it do not fire before it', async () => {
    // Node's loop clock is coarse, so it may call a timer before performance.now() says it is
    // due, and the clock may pass the next timers' deadlines before it calls them. Both are
    // rare and timing-bound; a skewed performance.now() makes them certain: its first reading
    // after the starts is 50 ms behind, every later one 50 ms ahead.
    const order: number[] = [];
    let allFired!: () => void;
    const fired = new Promise<void>((resolve) => {
      allFired = resolve;
    });
    const timers = Array.from({ length: 10 }, (_, i) => {
      const timer = hub.timer(5);
      timer.start(() => {
        if (order.push(i) === 10) allFired();
      });
      return timer;
    });
    cleanups.push(() => {
      for (const timer of timers) timer.close();
    });
    const realNow = performance.now;
    let readings = 0;
    performance.now = () => realNow.call(performance) + (readings++ === 0 ? -50 : 50);
    try {
      await within(2000, fired); // reads no clock: every reading is a timer's
    } finally {
      performance.now = realNow;
    }
    expect(readings, 'readings of the skewed clock').toBeGreaterThan(10);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('a repeating timer never fires sooner than its interval after the previous firing', async () => {
    const timer = hub.timer(3, 3);
    cleanups.push(() => timer.close());
    const times: number[] = [];
    await within(
      2000,
      new Promise<void>((resolve) => {
        timer.start(() => {
          times.push(hub.now());
          if (times.length === 5) {
            timer.stop();
            resolve();
          }
        });
      }),
    );
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(3);
  });

  it('have human names, used as the onError context', async () => {
    const timer = hub.timer(500);
    expect(inspect(timer)).toBe('timer(500ms)');
    expect(String(hub.timer(5, 100))).toBe('timer(5ms, every 100ms)');
    const once = hub.timer(1);
    await within(
      2000,
      new Promise<void>((resolve) => {
        once.start(() => {
          resolve();
          throw new Error('from a timer');
        });
      }),
    );
    await turn();
    expect(reported.splice(0).map((r) => r.context)).toEqual(['timer(1ms)']);
  });
});

describe('streams', () => {
  it('write() copies: the caller may overwrite its buffers as soon as write() returns', async () => {
    const { client, server } = await pair();
    const size = 8 * 1024 * 1024; // far more than the kernel buffers take at once
    const single = pattern(size);
    const parts = [pattern(1000), pattern(2000)];
    const expected = Buffer.concat([single, ...parts]);
    const received = readAll(server);
    const writes: Array<Error | null> = [];
    client.write(single, (err) => writes.push(err));
    client.write(parts, (err) => writes.push(err));
    single.fill(0);
    for (const part of parts) part.fill(0);
    expect(client.writeQueueSize).toBeGreaterThan(0);
    client.shutdown((err) => writes.push(err));
    const got = await within(10_000, received);
    expect(got.equals(expected)).toBe(true);
    await until(() => writes.length === 3, 2000);
    expect(writes).toEqual([null, null, null]);
    expect(client.writeQueueSize).toBe(0);
  });

  it('close() fails pending writes and shutdown with ECANCELED from a later turn, exactly once', async () => {
    const { client } = await pair();
    const results: unknown[] = [];
    client.write(pattern(16 * 1024 * 1024), (err) => results.push(codeOf(err)));
    client.shutdown((err) => results.push(codeOf(err)));
    client.close();
    client.close();
    expect(results).toEqual([]);
    await until(() => results.length === 2, 1000);
    await turn();
    expect(results).toEqual(['ECANCELED', 'ECANCELED']);
    expect(client.closed).toBe(true);
  });

  it('hub.close() cancels a pending connect with ECANCELED and closes every socket', async () => {
    const { client } = await pair();
    const results: unknown[] = [];
    hub.connect({ host: '127.0.0.1', port: 9 }, (err, stream) => results.push([codeOf(err), stream]));
    client.write(pattern(16 * 1024 * 1024), (err) => results.push(codeOf(err)));
    hub.close();
    expect(client.closed).toBe(true);
    await until(() => results.length === 2, 1000);
    expect(results).toHaveLength(2);
    expect(results).toContainEqual(['ECANCELED', undefined]);
    expect(results).toContainEqual('ECANCELED');
    expect(codeOf(catchError(() => hub.stats()))).toBe('ERR_HUB_CLOSED');
  });

  it('an EOF that arrives while not reading is delivered by the next readStart()', async () => {
    const { client, server } = await pair();
    client.shutdown();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const got = await within(2000, readAll(server));
    expect(got.length).toBe(0);
    // Half-open: the side that saw EOF can still write.
    const back = readAll(client);
    server.write(Buffer.from('still open'));
    server.shutdown();
    expect((await within(2000, back)).toString()).toBe('still open');
  });

  it('a stopped listener keeps connections and hands them over in order on start()', async () => {
    const listener = hub.listen({});
    cleanups.push(() => listener.close());
    const clients = [0, 1, 2].map(() => net.connect(listener.address.port, '127.0.0.1'));
    for (const c of clients) cleanups.push(() => c.destroy());
    await within(2000, Promise.all(clients.map((c) => once(c, 'connect'))));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(hub.stats()).toEqual({ active: 0, referenced: 0, open: 1 });
    const accepted: Stream[] = [];
    listener.start(
      (s) => accepted.push(s),
      (err) => reported.push({ error: err, context: 'test' }),
    );
    await until(() => accepted.length === 3, 2000);
    const ports = accepted.map((s) => s.remoteAddress.port);
    expect(ports).toEqual(clients.map((c) => c.localPort));
    for (const s of accepted) s.close();
  });

  it('a write callback goes through the callback queue, behind callbacks scheduled in the same turn', async () => {
    const { client, server } = await pair();
    const order: string[] = [];
    hub.callback(() => order.push('callback before'));
    client.write(Buffer.from('x'), () => order.push('write'));
    hub.callback(() => order.push('callback after'));
    expect(order).toEqual([]);
    await until(() => order.length === 3, 1000);
    // The write reached the kernel at once; its callback still waits its turn in the queue.
    expect(order).toEqual(['callback before', 'callback after', 'write']);
    const got = new Promise<string>((resolve) =>
      server.readStart((chunk) => resolve(Buffer.from(chunk!).toString())),
    );
    expect(await within(2000, got)).toBe('x');
    server.readStop();
  });

  it('an exception thrown by onRead is reported with the stream name, and reading goes on', async () => {
    const { client, server } = await pair();
    let chunks = 0;
    server.readStart((chunk) => {
      if (chunk === null) return;
      chunks++;
      throw new Error('bad reader');
    });
    client.write(Buffer.from('one'));
    await until(() => chunks === 1, 2000);
    client.write(Buffer.from('two'));
    await until(() => chunks === 2, 2000);
    server.readStop();
    const contexts = reported.splice(0).map((r) => r.context);
    expect(contexts).toHaveLength(2);
    expect(contexts[0]).toMatch(/^tcp-stream\(127\.0\.0\.1:\d+\)\.onRead$/);
  });

  it('streams and listeners have human names', async () => {
    const { client } = await pair();
    expect(inspect(client)).toMatch(/^tcp-stream\(127\.0\.0\.1:\d+\)$/);
    const listener = hub.listen({});
    cleanups.push(() => listener.close());
    expect(String(listener)).toBe(`tcp-listener(127.0.0.1:${listener.address.port})`);
  });
});
