import crypto from 'node:crypto';
import dns from 'node:dns';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configure, type Greenlet, GreenletExit, getSettings, idle, spawn, Timeout } from '@greenhub/core';
import { describeEachHub } from '@greenhub/core/testing';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setAresServers } from '../src/internal/resolve-ares.js';
import { lookupHosts, parseHosts } from '../src/internal/resolve-hosts.js';
import { resolve } from '../src/resolve.js';
import { type DatagramSocket, udp } from '../src/udp.js';

async function caught(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (err: unknown) => err,
  );
}

/**
 * A tiny DNS server on loopback, written with our own udp(): `names` maps a
 * lower-case name to its IPv4 addresses; other names get NXDOMAIN; names in
 * `silent` get no answer at all. Counts the queries it saw.
 */
function fakeDnsServer(
  names: Record<string, string[]>,
  silent: string[] = [],
): {
  sock: DatagramSocket;
  server: Greenlet<void>;
  queries: string[];
} {
  const sock = udp();
  const queries: string[] = [];
  const server = spawn(async () => {
    for (;;) {
      const { data, address } = await sock.recvFrom();
      const q = Buffer.from(data);
      let off = 12;
      const labels: string[] = [];
      while (q[off]! !== 0) {
        const len = q[off]!;
        labels.push(q.subarray(off + 1, off + 1 + len).toString('latin1'));
        off += len + 1;
      }
      const qtype = q.readUInt16BE(off + 1);
      const questionEnd = off + 5;
      const name = labels.join('.').toLowerCase();
      queries.push(`${name}/${qtype}`);
      if (silent.includes(name)) continue;
      const known = names[name];
      const answers = known && qtype === 1 ? known : [];
      const header = Buffer.alloc(12);
      q.copy(header, 0, 0, 2);
      header.writeUInt16BE(known ? 0x8180 : 0x8183, 2);
      header.writeUInt16BE(1, 4);
      header.writeUInt16BE(answers.length, 6);
      const records = answers.map((ip) => {
        const rr = Buffer.alloc(16);
        rr.writeUInt16BE(0xc00c, 0);
        rr.writeUInt16BE(1, 2);
        rr.writeUInt16BE(1, 4);
        rr.writeUInt32BE(60, 6);
        rr.writeUInt16BE(4, 10);
        ip.split('.').forEach((n, i) => {
          rr[12 + i] = Number(n);
        });
        return rr;
      });
      const reply = Buffer.concat([header, q.subarray(12, questionEnd), ...records]);
      await sock.sendTo(reply, address.port, address.address);
    }
  });
  return { sock, server, queries };
}

describe('hosts file parsing (used by the ares resolver)', () => {
  it('parses names case-insensitively, skips comments and junk, keeps file order', () => {
    const map = parseHosts(
      '# comment\n127.0.0.1 localhost Local.Test\n::1 localhost ip6-localhost\nnot-an-ip foo\n\n10.0.0.1 a # trailing',
    );
    expect(map.get('localhost')?.map((a) => a.address)).toEqual(['127.0.0.1', '::1']);
    expect(map.get('local.test')).toEqual([{ address: '127.0.0.1', port: 0, family: 'IPv4' }]);
    expect(map.get('a')).toEqual([{ address: '10.0.0.1', port: 0, family: 'IPv4' }]);
    expect(map.has('foo')).toBe(false);
  });

  it('lookupHosts re-reads the file when it changes; a missing file gives undefined', () => {
    const dir = mkdtempSync(join(tmpdir(), 'greenhub-hosts-'));
    const path = join(dir, 'hosts');
    try {
      writeFileSync(path, '10.9.8.7 my-box\n');
      expect(lookupHosts('MY-BOX', path)?.[0]?.address).toBe('10.9.8.7');
      writeFileSync(path, '10.9.8.6 my-box other\n');
      expect(lookupHosts('my-box.', path)?.[0]?.address).toBe('10.9.8.6');
      expect(lookupHosts('nope', path)).toBeUndefined();
      expect(lookupHosts('my-box', join(dir, 'missing'))).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeEachHub('resolve', () => {
  beforeEach(() => configure({ onError: () => {} }));
  afterEach(() => {
    configure({ onError: undefined, resolver: 'system' });
    setAresServers(undefined);
    vi.restoreAllMocks();
  });

  for (const resolver of ['system', 'ares'] as const) {
    describe(`resolver '${resolver}'`, () => {
      beforeEach(() => configure({ resolver }));

      it('a numeric host is returned as is, without a lookup', async () => {
        const spy = vi.spyOn(dns, 'lookup');
        const ctor = vi.spyOn(dns, 'Resolver');
        expect(await resolve('192.0.2.7')).toEqual([{ address: '192.0.2.7', port: 0, family: 'IPv4' }]);
        expect(await resolve('::1', { all: true })).toEqual([{ address: '::1', port: 0, family: 'IPv6' }]);
        expect(await resolve('[2001:db8::1]')).toEqual([{ address: '2001:db8::1', port: 0, family: 'IPv6' }]);
        expect(spy).not.toHaveBeenCalled();
        expect(ctor).not.toHaveBeenCalled();
      });

      it('localhost resolves to loopback (from /etc/hosts)', async () => {
        const [v4] = await resolve('localhost', { family: 4, timeout: 5000 });
        expect(v4).toEqual({ address: '127.0.0.1', port: 0, family: 'IPv4' });
        const all = await resolve('localhost', { all: true, timeout: 5000 });
        expect(all.length).toBeGreaterThanOrEqual(1);
        expect(all.map((a) => a.address)).toContain('127.0.0.1');
        for (const a of all) expect(a.port).toBe(0);
        const one = await resolve('LOCALHOST', { timeout: 5000 });
        expect(one).toHaveLength(1);
      });

      it('rejects an empty host and a bad family with ERR_INVALID_ARG_VALUE', async () => {
        expect(await caught(resolve(''))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
        expect(await caught(resolve('localhost', { family: 5 as 4 }))).toMatchObject({
          code: 'ERR_INVALID_ARG_VALUE',
        });
      });
    });
  }

  describe("resolver 'system' (getaddrinfo)", () => {
    beforeEach(() => configure({ resolver: 'system' }));

    it("ENOTFOUND keeps Node's error and code (a real getaddrinfo of a .invalid name)", async () => {
      const err = await caught(resolve('no-such-host.greenhub.invalid', { timeout: 5000 }));
      expect(err).toMatchObject({
        code: 'ENOTFOUND',
        syscall: 'getaddrinfo',
        hostname: 'no-such-host.greenhub.invalid',
      });
    });

    it('the wait is interrupted by Timeout, signal and kill(); a late answer is discarded', async () => {
      // A real getaddrinfo held back: libuv's four threadpool threads are busy with slow key
      // derivations, so the lookup queues behind them and answers only after they finish.
      const busy = Array.from(
        { length: 4 },
        () => new Promise((done) => crypto.pbkdf2('x', 'y', 3_000_000, 32, 'sha256', done)),
      );
      try {
        const started = performance.now();
        const err = await caught(resolve('localhost', { timeout: 20 }));
        expect(err).toBeInstanceOf(Timeout);
        expect((err as Timeout).code).toBe('ETIMEDOUT');

        const ac = new AbortController();
        const g = spawn(() => resolve('localhost', { signal: ac.signal }));
        await idle();
        expect(g.waitingOn).toBe('dns resolve');
        ac.abort(new Error('never mind'));
        expect(await caught(g.get())).toMatchObject({ message: 'never mind' });

        const k = spawn(() => resolve('localhost'));
        await idle();
        expect(k.waitingOn).toBe('dns resolve');
        await k.kill();
        expect(k.value).toBeInstanceOf(GreenletExit);
        // All three gave up while the lookups were still queued.
        expect(performance.now() - started).toBeLessThan(500);
      } finally {
        // The held lookups finish after the derivations; their answers go nowhere.
        await Promise.all(busy);
      }
    });

    it('family and all reach getaddrinfo; all: false keeps the first address', async () => {
      expect(await resolve('localhost', { family: 4 })).toEqual([
        { address: '127.0.0.1', port: 0, family: 'IPv4' },
      ]);
      const all = await resolve('localhost', { family: 4, all: true });
      expect(all.every((a) => a.family === 'IPv4')).toBe(true);
      // Whether localhost has an IPv6 address depends on /etc/hosts; either way only IPv6 comes back.
      const v6 = await resolve('localhost', { family: 6, all: true }).catch((err: unknown) => err);
      if (Array.isArray(v6)) expect(v6.every((a) => a.family === 'IPv6')).toBe(true);
      else expect(v6).toMatchObject({ code: 'ENOTFOUND' });
    });
  });

  describe("resolver 'ares' (c-ares), against a fake DNS server on loopback", () => {
    beforeEach(() => configure({ resolver: 'ares' }));

    it('asks DNS for names not in the hosts file, and maps NXDOMAIN to ENOTFOUND', async () => {
      const dnsServer = fakeDnsServer({ 'svc.greenhub.test': ['10.1.2.3', '10.1.2.4'] });
      try {
        setAresServers([`127.0.0.1:${dnsServer.sock.address.port}`]);
        expect(await resolve('svc.greenhub.test', { family: 4, all: true, timeout: 5000 })).toEqual([
          { address: '10.1.2.3', port: 0, family: 'IPv4' },
          { address: '10.1.2.4', port: 0, family: 'IPv4' },
        ]);
        // no family: A and AAAA are both asked; the AAAA "no data" does not spoil the A answer
        expect(await resolve('svc.greenhub.test', { timeout: 5000 })).toEqual([
          { address: '10.1.2.3', port: 0, family: 'IPv4' },
        ]);
        expect(dnsServer.queries).toContain('svc.greenhub.test/28');
        const err = await caught(resolve('missing.greenhub.test', { timeout: 5000 }));
        expect(err).toMatchObject({ code: 'ENOTFOUND', hostname: 'missing.greenhub.test' });
        // localhost comes from the hosts file, never from DNS
        const before = dnsServer.queries.length;
        expect((await resolve('localhost', { family: 4 }))[0]?.address).toBe('127.0.0.1');
        expect(dnsServer.queries.length).toBe(before);
      } finally {
        await dnsServer.server.kill();
        dnsServer.sock.close();
      }
    });

    it('the wait is interrupted by Timeout, signal and kill(), cancelling the queries', async () => {
      const dnsServer = fakeDnsServer({}, ['silent.greenhub.test']);
      try {
        setAresServers([`127.0.0.1:${dnsServer.sock.address.port}`]);
        const err = await caught(resolve('silent.greenhub.test', { timeout: 30 }));
        expect(err).toBeInstanceOf(Timeout);

        const ac = new AbortController();
        const g = spawn(() => resolve('silent.greenhub.test', { signal: ac.signal }));
        await idle();
        expect(g.waitingOn).toBe('dns resolve');
        ac.abort(new Error('never mind'));
        expect(await caught(g.get())).toMatchObject({ message: 'never mind' });

        const k = spawn(() => resolve('silent.greenhub.test'));
        await idle();
        await k.kill();
        expect(k.value).toBeInstanceOf(GreenletExit);
      } finally {
        await dnsServer.server.kill();
        dnsServer.sock.close();
      }
    });

    it('the resolver is chosen at call time from configure()', async () => {
      const dnsServer = fakeDnsServer({ 'svc.greenhub.test': ['10.1.2.3'] });
      try {
        setAresServers([`127.0.0.1:${dnsServer.sock.address.port}`]);
        expect(getSettings().resolver).toBe('ares');
        expect((await resolve('svc.greenhub.test', { timeout: 5000 }))[0]?.address).toBe('10.1.2.3');
        // The system resolver never asks our loopback DNS server: getaddrinfo does not know the name.
        configure({ resolver: 'system' });
        const asked = dnsServer.queries.length;
        expect(await caught(resolve('svc.greenhub.test', { timeout: 5000 }))).toMatchObject({
          code: 'ENOTFOUND',
        });
        expect(dnsServer.queries).toHaveLength(asked);
      } finally {
        await dnsServer.server.kill();
        dnsServer.sock.close();
      }
    });
  });
});
