import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Stream } from '@greenhub/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createHub, type LibevHub } from '../src/index.js';
import { addon } from '../src/load-addon.js';

let hub: LibevHub;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0).reverse()) fn();
  expect(hub.stats()).toEqual({ active: 0, referenced: 0, open: 0 });
  hub.close();
  // The native side agrees: no libev watcher is left counted, so the prepare handle is stopped.
  expect(addon.counts()).toEqual({ active: 0, referenced: 0 });
});

function connect(port: number): Promise<Stream> {
  return new Promise((resolve, reject) =>
    hub.connect({ port }, (err, s) => (err ? reject(err) : resolve(s as Stream))),
  );
}

describe('native sockets on libev readiness', () => {
  it('a write the kernel cannot take at once is queued, counted in writeQueueSize, and completes once, intact', async () => {
    hub = createHub();
    const received: Buffer[] = [];
    let paused!: net.Socket;
    const server = net.createServer((socket) => {
      paused = socket;
      socket.pause();
      socket.on('data', (d) => received.push(d));
    });
    cleanups.push(() => server.close());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = await connect((server.address() as net.AddressInfo).port);
    cleanups.push(() => client.close());
    const payload = randomBytes(8 * 1024 * 1024);
    const done: (Error | null)[] = [];
    client.write(payload, (err) => done.push(err));
    client.write([payload.subarray(0, 10), payload.subarray(10, 20)], (err) => done.push(err));
    expect(client.writeQueueSize).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(done).toEqual([]);
    paused.resume();
    await new Promise<void>((resolve) => {
      const check = (): void => (done.length === 2 ? resolve() : void setTimeout(check, 5));
      check();
    });
    expect(done).toEqual([null, null]);
    expect(client.writeQueueSize).toBe(0);
    await new Promise<void>((resolve) => {
      const check = (): void =>
        Buffer.concat(received).length === payload.length + 20 ? resolve() : void setTimeout(check, 5);
      check();
    });
    const all = Buffer.concat(received);
    expect(all.subarray(0, payload.length).equals(payload)).toBe(true);
    expect(all.subarray(payload.length).equals(payload.subarray(0, 20))).toBe(true);
    paused.destroy();
  });

  it('close() cancels every queued write with ECANCELED, exactly once each', async () => {
    hub = createHub();
    const server = net.createServer((socket) => socket.pause());
    cleanups.push(() => server.close());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = await connect((server.address() as net.AddressInfo).port);
    const codes: string[] = [];
    const big = Buffer.alloc(16 * 1024 * 1024);
    for (let i = 0; i < 3; i++)
      client.write(big, (err) => codes.push((err as { code?: string } | null)?.code ?? 'ok'));
    client.shutdown((err) => codes.push(`shutdown ${(err as { code?: string } | null)?.code}`));
    client.close();
    client.close();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(codes.filter((c) => c === 'ECANCELED').length).toBeGreaterThanOrEqual(2);
    expect(codes).toHaveLength(4);
    expect(codes[3]).toBe('shutdown ECANCELED');
  });

  it('a read and a timer due in the same wakeup: the read comes first, and a timer it stops does not fire', async () => {
    // Reads run at a higher libev priority than timers and are handed to JS before them, so a
    // greenlet's read timeout that its data made moot is not delivered on top of the data.
    hub = createHub();
    const server = net.createServer();
    cleanups.push(() => server.close());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    const stream = await connect((server.address() as net.AddressInfo).port);
    cleanups.push(() => stream.close());
    const peer = await accepted;
    cleanups.push(() => peer.destroy());
    const events: string[] = [];
    const timer = hub.timer(10);
    cleanups.push(() => timer.close());
    stream.readStart((chunk) => {
      events.push(`read ${chunk?.length}`);
      timer.stop();
    });
    timer.start(() => events.push('timer'));
    peer.write('x'); // into the kernel at once: libuv tries the write before queueing it
    const until = performance.now() + 50;
    while (performance.now() < until); // both are due when the loop next polls
    await new Promise((r) => setTimeout(r, 50));
    expect(events).toEqual(['read 1']);
    stream.readStop();
  });

  it('a burst of 300 connections is accepted in batches', async () => {
    hub = createHub();
    const listener = hub.listen({ port: 0, backlog: 1024 });
    const accepted: Stream[] = [];
    listener.start(
      (s) => accepted.push(s),
      (err) => {
        throw err;
      },
    );
    cleanups.push(() => {
      listener.close();
      for (const s of accepted) s.close();
    });
    const sockets = Array.from({ length: 300 }, () => net.connect(listener.address.port, '127.0.0.1'));
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
    });
    await new Promise<void>((resolve) => {
      const check = (): void => (accepted.length === 300 ? resolve() : void setTimeout(check, 5));
      check();
    });
    expect(accepted).toHaveLength(300);
  });

  it('listen() throws EADDRINUSE at once, with Node’s message', () => {
    hub = createHub();
    const first = hub.listen({ port: 0 });
    cleanups.push(() => first.close());
    const { port } = first.address;
    expect(() => hub.listen({ port })).toThrow(
      expect.objectContaining({
        code: 'EADDRINUSE',
        message: `listen EADDRINUSE 127.0.0.1:${port}`,
        syscall: 'listen',
      }),
    );
  });

  it('reusePort lets two listeners share a port', () => {
    hub = createHub();
    const a = hub.listen({ port: 0, reusePort: true });
    const b = hub.listen({ port: a.address.port, reusePort: true });
    cleanups.push(
      () => a.close(),
      () => b.close(),
    );
    expect(b.address.port).toBe(a.address.port);
  });

  it('IPv6 listeners and datagrams work when the host has ::1', async () => {
    hub = createHub();
    let listener: ReturnType<LibevHub['listen']>;
    try {
      listener = hub.listen({ host: '::1', port: 0, ipv6Only: true });
    } catch {
      return; // no IPv6 on this host
    }
    cleanups.push(() => listener.close());
    expect(listener.address.family).toBe('IPv6');
    const udp = hub.udp({ host: '::1' });
    cleanups.push(() => udp.close());
    const got = await new Promise<string>((resolve) => {
      udp.recvStart((data, from) => resolve(`${Buffer.from(data).toString()} from ${from.family}`));
      udp.send(Buffer.from('six'), udp.address);
    });
    expect(got).toBe('six from IPv6');
  });
});
