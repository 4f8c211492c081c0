import * as nodeNet from 'node:net';
import { configure, GreenletExit, idle, spawn, Timeout } from '@greenhub/core';
import { describeEachHub } from '@greenhub/core/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { connect } from '../src/connect.js';
import { Listener, listen } from '../src/listener.js';
import type { Socket } from '../src/socket.js';
import { caught, text } from './sockets-helpers.js';

describeEachHub('listen / Listener', () => {
  beforeEach(() => configure({ onError: () => {} }));
  afterEach(() => configure({ onError: undefined }));

  it('binds synchronously: the address (and a free port for port 0) is known at once', () => {
    using listener = listen();
    expect(listener).toBeInstanceOf(Listener);
    expect(listener.address.address).toBe('127.0.0.1');
    expect(listener.address.family).toBe('IPv4');
    expect(listener.address.port).toBeGreaterThan(0);
  });

  it('accept() waits (kind "accept") until a client connects, here a node:net client', async () => {
    using listener = listen({ host: 'localhost', port: 0 });
    const g = spawn(() => listener.accept());
    await idle();
    expect(g.waitingOn).toBe('accept');
    const client = nodeNet.connect({ host: '127.0.0.1', port: listener.address.port });
    const received = new Promise<string>((resolve) => client.once('data', (d) => resolve(String(d))));
    await using sock = await g.get();
    expect(sock.remoteAddress.port).toBe(client.localPort);
    await sock.write('welcome');
    expect(await received).toBe('welcome');
    client.destroy();
    expect(await sock.read()).toBeNull();
  });

  it('connections that arrive while nobody accepts wait for the next accept()', async () => {
    using listener = listen({ port: 0 });
    const clients = [
      await connect({ port: listener.address.port }),
      await connect({ port: listener.address.port }),
    ];
    const accepted = [await listener.accept(), await listener.accept()];
    for (const [i, c] of clients.entries()) await c.write(`c${i}`);
    const got = (await Promise.all(accepted.map((s) => s.readExactly(2)))).map((b) =>
      Buffer.from(b).toString(),
    );
    expect(got.sort()).toEqual(['c0', 'c1']);
    for (const s of [...clients, ...accepted]) s.close();
  });

  it('close() wakes every greenlet blocked in accept() with ERR_SOCKET_CLOSED; accept() after close throws too', async () => {
    const listener = listen({ port: 0 });
    const gs = [spawn(() => listener.accept()), spawn(() => listener.accept())];
    await idle();
    listener.close();
    listener.close(); // idempotent
    for (const g of gs) {
      const err = await caught(g.get());
      expect((err as { code?: string }).code).toBe('ERR_SOCKET_CLOSED');
      expect((err as Error).message).toMatch(/listener closed/);
    }
    expect(listener.closed).toBe(true);
    expect(((await caught(listener.accept())) as { code?: string }).code).toBe('ERR_SOCKET_CLOSED');
  });

  it('accept() takes a timeout (Timeout) and kill() interrupts it; the listener keeps working', async () => {
    using listener = listen({ port: 0 });
    const err = await caught(listener.accept({ timeout: 10 }));
    expect(err).toBeInstanceOf(Timeout);
    const g = spawn(() => listener.accept());
    await idle();
    await g.kill();
    expect(g.value).toBeInstanceOf(GreenletExit);
    const acc = spawn(() => listener.accept());
    await using client = await connect({ port: listener.address.port });
    await using server = await acc.get();
    await client.write('x');
    expect(text(await server.readExactly(1))).toBe('x');
  });

  it('async iteration yields accepted sockets and ends quietly when the listener is closed', async () => {
    const listener = listen({ port: 0 });
    const seen: Socket[] = [];
    const loop = spawn(async () => {
      for await (const sock of listener) seen.push(sock);
      return 'ended';
    });
    const clients = [
      await connect({ port: listener.address.port }),
      await connect({ port: listener.address.port }),
    ];
    while (seen.length < 2) await idle();
    listener.close();
    expect(await loop.get()).toBe('ended');
    for (const s of [...clients, ...seen]) s.close();
  });

  it('a port in use throws EADDRINUSE; a host name throws ERR_INVALID_IP_ADDRESS', () => {
    using listener = listen({ port: 0 });
    expect(() => listen({ port: listener.address.port })).toThrow(
      expect.objectContaining({ code: 'EADDRINUSE' }),
    );
    expect(() => listen({ host: 'example.invalid', port: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_IP_ADDRESS' }),
    );
  });

  it('`using` closes the listener', async () => {
    let port = 0;
    {
      using listener = listen({ port: 0 });
      port = listener.address.port;
    }
    expect(((await caught(connect({ port }))) as { code?: string }).code).toBe('ECONNREFUSED');
  });
});
