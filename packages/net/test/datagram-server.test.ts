import { configure, GreenletExit, getcurrent, type SocketAddress, sleep, spawn } from '@greenhub/core';
import { describeEachHub } from '@greenhub/core/testing';
import { Event } from '@greenhub/sync';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { BaseServer } from '../src/base-server.js';
import { DatagramServer } from '../src/datagram-server.js';
import { udp } from '../src/udp.js';
import { caught } from './sockets-helpers.js';

const text = (data: Uint8Array): string => Buffer.from(data).toString('utf8');

/** Yield until `cond()` holds (bounded: fails after ~2 s). */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 2000;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(1);
  }
}

describeEachHub('DatagramServer', () => {
  let errors: { error: unknown; context: string }[] = [];
  beforeEach(() => {
    errors = [];
    configure({ onError: (error, context) => errors.push({ error, context }) });
  });
  afterEach(() => configure({ onError: undefined }));

  it('echoes: one named handler greenlet per datagram replies through server.sendTo()', async () => {
    const names: string[] = [];
    const server = new DatagramServer(
      { port: 0 },
      async (data: Uint8Array, from: SocketAddress, srv: DatagramServer) => {
        names.push(getcurrent().name);
        await srv.sendTo(text(data).toUpperCase(), from.port, from.address);
      },
    );
    expect(server).toBeInstanceOf(BaseServer);
    await server.start();
    expect(server.address.port).toBeGreaterThan(0);
    using client = udp();
    for (const word of ['ping', 'pong']) {
      await client.sendTo(word, server.address.port);
      const reply = await client.recvFrom({ timeout: 1000 });
      expect(text(reply.data)).toBe(word.toUpperCase());
      expect(reply.address.port).toBe(server.address.port);
    }
    expect(names).toHaveLength(2);
    for (const name of names)
      expect(name).toMatch(new RegExp(`^handler:127\\.0\\.0\\.1:${client.address.port}#\\d+$`));
    await server.stop();
    expect(server.closed).toBe(true);
    expect(server.socket?.closed).toBe(true);
  });

  it("reports a handler's error and keeps serving", async () => {
    await using server = new DatagramServer(
      { port: 0 },
      async (data: Uint8Array, from: SocketAddress, srv: DatagramServer) => {
        if (text(data) === 'boom') throw new Error('handler broke');
        await srv.sendTo('ok', from.port, from.address);
      },
    );
    await server.start();
    using client = udp();
    await client.sendTo('boom', server.address.port);
    await until(() => errors.length === 1, 'the error report');
    expect((errors[0]!.error as Error).message).toBe('handler broke');
    expect(errors[0]!.context).toMatch(/handler:127\.0\.0\.1:\d+#\d+/);
    await client.sendTo('again', server.address.port);
    expect(text((await client.recvFrom({ timeout: 1000 })).data)).toBe('ok');
  });

  it('stops receiving while a Pool(1) is full; buffered datagrams are handled once it frees', async () => {
    const release = new Event();
    const seen: string[] = [];
    const server = new DatagramServer(
      udp(),
      async (data: Uint8Array) => {
        seen.push(text(data));
        await release.wait(2000);
      },
      { spawn: 1 },
    );
    await server.start();
    using client = udp();
    for (const word of ['a', 'b', 'c']) await client.sendTo(word, server.address.port);
    await until(() => seen.length === 1, 'the first handler');
    await sleep(20);
    expect(seen).toEqual(['a']);
    expect(server.handlerCount).toBe(1);
    release.set();
    await until(() => seen.length === 3, 'the rest');
    expect(seen).toEqual(['a', 'b', 'c']);
    await server.stop();
  });

  it('serveForever() ends on stop(), and a kill of the serving greenlet stops the server and its handlers', async () => {
    const first = new DatagramServer({ port: 0 }, () => {});
    const g1 = spawn(() => first.serveForever());
    await until(() => first.started, 'the first server');
    await first.stop();
    expect(await g1.join(1000)).toBe(true);
    expect(g1.successful()).toBe(true);

    let killed = false;
    const second = new DatagramServer({ port: 0 }, async () => {
      try {
        await sleep(60_000);
      } catch (err) {
        killed = err instanceof GreenletExit;
        throw err;
      }
    });
    const g2 = spawn(() => second.serveForever());
    await until(() => second.started, 'the second server');
    using client = udp();
    await client.sendTo('x', second.address.port);
    await until(() => second.handlerCount === 1, 'the handler');
    await g2.kill(undefined, { timeout: 3000 });
    expect(g2.value).toBeInstanceOf(GreenletExit);
    expect(second.closed).toBe(true);
    expect(killed).toBe(true);
  });

  it('start() twice is harmless; start() reports EADDRINUSE for a taken port; sendTo() before start() throws', async () => {
    await using server = new DatagramServer({ port: 0 }, () => {});
    expect(((await caught(server.sendTo('x', 9))) as { code?: string }).code).toBe('ERR_SERVER_NOT_STARTED');
    await server.start();
    const address = server.address;
    await server.start();
    expect(server.address).toEqual(address);
    const clash = new DatagramServer({ port: address.port }, () => {});
    expect(((await caught(clash.start())) as { code?: string }).code).toBe('EADDRINUSE');
    expect(clash.started).toBe(false);
    await clash.stop();
  });
});
