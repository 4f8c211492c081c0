import { spawn as spawnChild } from 'node:child_process';
import dgram from 'node:dgram';
import { configure, GreenletExit, getHub, idle, sleep, spawn, Timeout } from '@greenhub/core';
import { describeEachHub } from '@greenhub/core/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { UDP_RECV_BUFFER, udp } from '../src/udp.js';

async function caught(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (err: unknown) => err,
  );
}

const text = (data: Uint8Array): string => Buffer.from(data).toString('utf8');

describeEachHub('udp / DatagramSocket', () => {
  beforeEach(() => configure({ onError: () => {} }));
  afterEach(() => configure({ onError: undefined }));

  it('udp() binds synchronously: the address is known at once; close() is idempotent and disposes', () => {
    const sock = udp();
    expect(sock.address.address).toBe('127.0.0.1');
    expect(sock.address.family).toBe('IPv4');
    expect(sock.address.port).toBeGreaterThan(0);
    expect(getHub().stats().open).toBe(1);
    sock.close();
    sock.close();
    expect(sock.closed).toBe(true);
    {
      using other = udp({ host: '127.0.0.1', port: 0 });
      expect(other.closed).toBe(false);
    }
    expect(getHub().stats().open).toBe(0);
  });

  it('udp() rejects a non-numeric host and a bad port at once; binding a taken port throws EADDRINUSE', () => {
    expect(() => udp({ host: 'localhost' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_IP_ADDRESS' }),
    );
    expect(() => udp({ port: 70000 })).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_BAD_PORT' }));
    using a = udp();
    expect(() => udp({ port: a.address.port })).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }));
  });

  it('sendTo / recvFrom carry strings and bytes with the sender address', async () => {
    using a = udp();
    using b = udp();
    await a.sendTo('hello', b.address.port);
    await a.sendTo(new Uint8Array([0, 1, 255]), b.address.port, '127.0.0.1');
    const first = await b.recvFrom({ timeout: 2000 });
    expect(text(first.data)).toBe('hello');
    expect(first.address).toEqual(a.address);
    const second = await b.recvFrom({ timeout: 2000 });
    expect([...second.data]).toEqual([0, 1, 255]);
    // an empty datagram is a datagram
    await b.sendTo(new Uint8Array(0), a.address.port);
    expect((await a.recvFrom({ timeout: 2000 })).data.length).toBe(0);
  });

  it('sendTo resolves a host name first (localhost)', async () => {
    using a = udp();
    using b = udp();
    await a.sendTo('by name', b.address.port, 'localhost', { timeout: 5000 });
    expect(text((await b.recvFrom({ timeout: 2000 })).data)).toBe('by name');
  });

  it("works over IPv6 (::1); sendTo's default host is then ::1", async () => {
    using a = udp({ host: '::1' });
    using b = udp({ host: '::1' });
    expect(a.address).toMatchObject({ address: '::1', family: 'IPv6' });
    await a.sendTo('six', b.address.port, '::1');
    const got = await b.recvFrom({ timeout: 2000 });
    expect(text(got.data)).toBe('six');
    expect(got.address).toEqual(a.address);
    await b.sendTo('back', a.address.port);
    expect(text((await a.recvFrom({ timeout: 2000 })).data)).toBe('back');
  });

  it('sendTo rejects a bad port with ERR_SOCKET_BAD_PORT', async () => {
    using a = udp();
    expect(await caught(a.sendTo('x', 0))).toMatchObject({ code: 'ERR_SOCKET_BAD_PORT' });
    expect(await caught(a.sendTo('x', 1.5))).toMatchObject({ code: 'ERR_SOCKET_BAD_PORT' });
  });

  it('datagrams that arrive while nobody receives are buffered, in order', async () => {
    using a = udp();
    using b = udp();
    for (let i = 0; i < 5; i++) await a.sendTo(`m${i}`, b.address.port);
    await sleep(20);
    const got: string[] = [];
    for (let i = 0; i < 5; i++) got.push(text((await b.recvFrom({ timeout: 2000 })).data));
    expect(got).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
  });

  it(`the buffer keeps at most ${UDP_RECV_BUFFER} datagrams, dropping the oldest`, async () => {
    using a = udp();
    using b = udp();
    const total = UDP_RECV_BUFFER + 6;
    for (let i = 0; i < total; i++) {
      await a.sendTo(String(i), b.address.port);
      if (i % 50 === 49) await sleep(2); // let the hub drain the kernel buffer
    }
    for (let i = 0; i < 200 && b.dropped < 6; i++) await sleep(5);
    expect(b.dropped).toBe(6);
    expect(text((await b.recvFrom({ timeout: 2000 })).data)).toBe('6');
  });

  it('blocked receivers are served first come, first served', async () => {
    using a = udp();
    using b = udp();
    const gs = [0, 1, 2].map((i) =>
      spawn(async () => `${i}:${text((await b.recvFrom({ timeout: 5000 })).data)}`),
    );
    await idle();
    for (const g of gs) expect(g.waitingOn).toBe('udp recv');
    for (const m of ['x', 'y', 'z']) await a.sendTo(m, b.address.port);
    expect(await Promise.all(gs.map((g) => g.get()))).toEqual(['0:x', '1:y', '2:z']);
  });

  it('a datagram goes to the next live receiver when the first one was killed', async () => {
    using a = udp();
    using b = udp();
    const first = spawn(() => b.recvFrom());
    const second = spawn(async () => text((await b.recvFrom()).data));
    await idle();
    await first.kill();
    expect(first.value).toBeInstanceOf(GreenletExit);
    await a.sendTo('for second', b.address.port);
    expect(await second.get({ timeout: 2000 })).toBe('for second');
  });

  it('recvFrom times out with Timeout (ETIMEDOUT), honours signal, and is interrupted by kill()', async () => {
    using b = udp();
    const err = await caught(b.recvFrom({ timeout: 20 }));
    expect(err).toBeInstanceOf(Timeout);
    expect((err as Timeout).code).toBe('ETIMEDOUT');

    const ac = new AbortController();
    const g = spawn(() => b.recvFrom({ signal: ac.signal }));
    await idle();
    ac.abort(new Error('stop'));
    expect(await caught(g.get())).toMatchObject({ message: 'stop' });
    expect(await caught(b.recvFrom({ signal: AbortSignal.abort(new Error('already')) }))).toMatchObject({
      message: 'already',
    });

    const k = spawn(() => b.recvFrom());
    await idle();
    await k.kill();
    expect(k.value).toBeInstanceOf(GreenletExit);

    // a Timeout aimed at the greenlet interrupts the wait too
    const t = spawn(async () => {
      using _timer = Timeout.startNew(10);
      return await b.recvFrom();
    });
    expect(await caught(t.get())).toBeInstanceOf(Timeout);
  });

  it('close() wakes every blocked receiver with ERR_SOCKET_CLOSED; later calls fail the same way', async () => {
    const b = udp();
    const gs = [0, 1].map(() => spawn(() => b.recvFrom()));
    await idle();
    b.close();
    for (const g of gs) expect(await caught(g.get())).toMatchObject({ code: 'ERR_SOCKET_CLOSED' });
    expect(await caught(b.recvFrom())).toMatchObject({ code: 'ERR_SOCKET_CLOSED' });
    expect(await caught(b.sendTo('x', 9))).toMatchObject({ code: 'ERR_SOCKET_CLOSED' });
  });

  it('close() during a pending send rejects it with ERR_SOCKET_CLOSED', async () => {
    const a = udp();
    const b = udp();
    const p = caught(a.sendTo('x', b.address.port));
    a.close();
    const err = await p;
    // the hub may have sent it already within the same turn; if not, it is cancelled
    if (err !== undefined) expect(err).toMatchObject({ code: 'ERR_SOCKET_CLOSED' });
    b.close();
  });

  it("talks to Node's own dgram sockets both ways", async () => {
    const peer = dgram.createSocket('udp4');
    await new Promise<void>((r) => peer.bind(0, '127.0.0.1', r));
    peer.on('message', (msg, rinfo) =>
      peer.send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address),
    );
    try {
      using sock = udp();
      await sock.sendTo('ping', peer.address().port);
      const { data, address } = await sock.recvFrom({ timeout: 2000 });
      expect(text(data)).toBe('echo:ping');
      expect(address.port).toBe(peer.address().port);
    } finally {
      await new Promise<void>((r) => peer.close(() => r()));
    }
  });
  it("talks to Python's socket module (a cross-language check)", async () => {
    const py = spawnChild('python3', [
      '-c',
      [
        'import socket, sys',
        's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
        "s.bind(('127.0.0.1', 0))",
        's.settimeout(10)',
        'print(s.getsockname()[1], flush=True)',
        'data, peer = s.recvfrom(65535)',
        "s.sendto(b'py:' + data[::-1], peer)",
        's.close()',
      ].join('\n'),
    ]);
    try {
      const port = await new Promise<number>((resolve, reject) => {
        py.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
        py.once('error', reject);
      });
      using sock = udp();
      await sock.sendTo('abc', port);
      const { data, address } = await sock.recvFrom({ timeout: 5000 });
      expect(text(data)).toBe('py:cba');
      expect(address).toEqual({ address: '127.0.0.1', port, family: 'IPv4' });
    } finally {
      py.kill();
      if (py.exitCode === null && py.signalCode === null) await new Promise((r) => py.once('exit', r));
    }
  });
});
