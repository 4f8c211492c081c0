import { spawn as spawnChild } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as nodeNet from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { configure, GreenletExit, idle, sleep, spawn, Timeout } from '@greenhub/core';
import { describeEachHub } from '@greenhub/core/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { connect } from '../src/connect.js';
import { listen } from '../src/listener.js';
import type { Socket } from '../src/socket.js';
import { caught, text } from './sockets-helpers.js';

function ipv6Loopback(): boolean {
  return Object.values(networkInterfaces()).some((list) => list?.some((i) => i.address === '::1'));
}

describeEachHub('connect', () => {
  beforeEach(() => configure({ onError: () => {} }));
  afterEach(() => configure({ onError: undefined }));

  it('connects over TCP to 127.0.0.1 and both ends know their addresses', async () => {
    using listener = listen({ port: 0 });
    const acc = spawn(() => listener.accept());
    await using client = await connect({ host: '127.0.0.1', port: listener.address.port, noDelay: true });
    await using server = await acc.get();
    expect(client.remoteAddress).toEqual({
      address: '127.0.0.1',
      port: listener.address.port,
      family: 'IPv4',
    });
    expect(server.remoteAddress).toEqual(client.localAddress);
    await client.write('hi');
    expect(text(await server.readExactly(2))).toBe('hi');
  });

  it("takes 'localhost' and a host name, and defaults the host to 127.0.0.1", async () => {
    using listener = listen({ port: 0 });
    for (const opts of [{ host: 'localhost' }, {}]) {
      const acc = spawn(() => listener.accept());
      await using client = await connect({ ...opts, port: listener.address.port });
      await using server = await acc.get();
      expect(client.remoteAddress.address).toBe('127.0.0.1');
      expect(server.localAddress.port).toBe(listener.address.port);
    }
  });

  it('talks to a node:net server peer', async () => {
    const server = nodeNet.createServer((conn) => conn.pipe(conn));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as nodeNet.AddressInfo;
      await using sock = await connect({ port, timeout: 5000 });
      await sock.write('echo me\n');
      expect(await sock.readLine()).toBe('echo me');
      await sock.end();
      expect(await sock.read()).toBeNull();
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it.runIf(ipv6Loopback())('connects over IPv6 to ::1', async () => {
    using listener = listen({ host: '::1', port: 0 });
    expect(listener.address.family).toBe('IPv6');
    const acc = spawn(() => listener.accept());
    await using client = await connect({ host: '::1', port: listener.address.port });
    await using server = await acc.get();
    expect(client.remoteAddress.family).toBe('IPv6');
    await server.write('six');
    expect(text(await client.readExactly(3))).toBe('six');
  });

  it('rejects with ECONNREFUSED when nothing listens', async () => {
    const port = (() => {
      using l = listen({ port: 0 });
      return l.address.port;
    })();
    const err = await caught(connect({ port }));
    expect((err as { code?: string }).code).toBe('ECONNREFUSED');
  });

  it('resolves host names with the system resolver; an unknown one rejects with ENOTFOUND', async () => {
    const err = await caught(connect({ host: 'no-such-host.invalid', port: 1, timeout: 5000 }));
    expect((err as { code?: string }).code).toBe('ENOTFOUND');
  });

  it('connects to a unix path, and rejects with ENOENT for a missing one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'greenhub-net-'));
    try {
      const path = join(dir, 's.sock');
      using listener = listen({ path });
      expect(listener.address).toEqual({ address: path, port: 0, family: 'unix' });
      const acc = spawn(() => listener.accept());
      await using client = await connect({ path });
      await using server = await acc.get();
      await server.write('over unix\n');
      expect(await client.readLine()).toBe('over unix');
      const err = await caught(connect({ path: join(dir, 'missing.sock') }));
      expect((err as { code?: string }).code).toBe('ENOENT');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a timeout that runs out rejects with Timeout (code ETIMEDOUT) and leaves nothing behind', async () => {
    using listener = listen({ port: 0 });
    // timeout 0 has run out before the handshake can start
    const err = await caught(connect({ port: listener.address.port, timeout: 0 }));
    expect(err).toBeInstanceOf(Timeout);
    expect((err as { code?: string }).code).toBe('ETIMEDOUT');
  });

  it('a timeout during a handshake the kernel never completes (accept queue full) rejects with Timeout in about that time', async () => {
    // Loopback only. The stalled listener lives in a stopped child process (backlog 1): Node and
    // the pure hub accept on their own, a stopped process does not. Once its accept queue is full,
    // Linux drops further SYNs (the client retries only after a second), so the handshake stalls.
    const child = spawnChild(
      process.execPath,
      [
        '-e',
        "const s = require('node:net').createServer(); s.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => console.log(s.address().port));",
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const fillers: Socket[] = [];
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the child did not listen')), 10_000);
        child.stdout?.once('data', (d: Buffer) => {
          clearTimeout(timer);
          resolve(Number(d.toString().trim()));
        });
      });
      child.kill('SIGSTOP');
      let full = false;
      for (let i = 0; i < 16 && !full; i++) {
        try {
          fillers.push(await connect({ port, timeout: 100 }));
        } catch (err) {
          if (!(err instanceof Timeout)) throw err;
          full = true;
        }
      }
      expect(full, `the kernel completed ${fillers.length} handshakes past backlog 1`).toBe(true);
      const started = performance.now();
      const err = await caught(connect({ port, timeout: 200 }));
      const elapsed = performance.now() - started;
      expect(err).toBeInstanceOf(Timeout);
      expect((err as { code?: string }).code).toBe('ETIMEDOUT');
      expect(elapsed).toBeGreaterThanOrEqual(190);
      expect(elapsed).toBeLessThan(700);
    } finally {
      for (const s of fillers) s.close();
      child.kill('SIGKILL');
    }
  });

  it('an aborted signal rejects with its reason', async () => {
    using listener = listen({ port: 0 });
    const reason = new Error('no thanks');
    expect(await caught(connect({ port: listener.address.port, signal: AbortSignal.abort(reason) }))).toBe(
      reason,
    );
    const ac = new AbortController();
    const g = spawn(() => connect({ port: listener.address.port, signal: ac.signal }));
    await sleep(0);
    if (g.waitingOn === 'connect') {
      ac.abort(reason);
      expect(await caught(g.get())).toBe(reason);
    } else {
      (await g.get()).close();
    }
  });

  it('kill() interrupts a pending connect', async () => {
    using listener = listen({ port: 0 });
    const g = spawn(() => connect({ port: listener.address.port }));
    await sleep(0);
    if (g.waitingOn === 'connect') {
      await g.kill();
      expect(g.value).toBeInstanceOf(GreenletExit);
    } else {
      // the loopback handshake already completed: nothing to interrupt
      (await g.get()).close();
    }
    expect(g.dead).toBe(true);
    await idle();
  });
});
