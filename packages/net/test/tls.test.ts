import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { configure, sleep, spawn, Timeout, withTimeout } from '@greenhub/core';
import { describeEachHub } from '@greenhub/core/testing';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { connect } from '../src/connect.js';
import { DuplexStream } from '../src/internal/duplex-stream.js';
import { listen } from '../src/listener.js';
import type { Socket } from '../src/socket.js';
import { StreamServer } from '../src/stream-server.js';
import { acceptTls, connectTls, startTls, tlsInfo } from '../src/tls.js';
import { caught, text } from './sockets-helpers.js';
import { selfSignedCertificate } from './tls-cert.js';

let key = '';
let cert = '';
let dispose = (): void => {};

beforeAll(() => {
  ({ key, cert, dispose } = selfSignedCertificate());
});

afterAll(() => dispose());

/** A node:tls echo server; closed (with its connections) by the returned function. */
async function nodeEchoServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const conns = new Set<tls.TLSSocket>();
  const server = tls.createServer({ key, cert }, (conn) => {
    conns.add(conn);
    conn.on('close', () => conns.delete(conn));
    conn.on('error', () => {});
    conn.pipe(conn);
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: async () => {
      for (const c of conns) c.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A greenhub TLS pair over loopback: [client, server]. */
async function tlsPair(): Promise<[Socket, Socket]> {
  using listener = listen({ port: 0 });
  const acc = spawn(async () => acceptTls(await listener.accept(), { key, cert, timeout: 5000 }));
  const client = await connectTls({
    host: 'localhost',
    port: listener.address.port,
    tls: { ca: cert },
    timeout: 5000,
  });
  const server = await acc.get();
  return [client, server];
}

describeEachHub('tls', () => {
  beforeEach(() => configure({ onError: () => {} }));
  afterEach(() => configure({ onError: undefined }));

  it('greenhub client ↔ node:tls server: echo, readLine, half-close', async () => {
    const server = await nodeEchoServer();
    try {
      await using sock = await connectTls({
        host: 'localhost',
        port: server.port,
        tls: { ca: cert },
        timeout: 5000,
      });
      expect(sock.remoteAddress.port).toBe(server.port);
      expect(tlsInfo(sock)).toMatchObject({ protocol: 'TLSv1.3', authorized: true, alpnProtocol: false });
      const plain = await connect({ port: server.port });
      plain.close();
      expect(tlsInfo(plain)).toBeUndefined();
      await sock.write('hello\nworld\n');
      expect(await sock.readLine()).toBe('hello');
      expect(await sock.readLine()).toBe('world');
      await sock.write('abcdef');
      expect(text(await sock.readExactly(6))).toBe('abcdef');
      await sock.end();
      expect(await sock.read()).toBeNull();
    } finally {
      await server.close();
    }
  });

  it('connect({ tls }) speaks TLS, with the same timeout and name checks as connectTls', async () => {
    const server = await nodeEchoServer();
    try {
      await using sock = await connect({
        host: 'localhost',
        port: server.port,
        tls: { ca: cert },
        timeout: 5000,
      });
      expect(tlsInfo(sock)).toMatchObject({ authorized: true });
      await sock.write('over tls\n');
      expect(await sock.readLine()).toBe('over tls');
      const untrusted = await caught(
        connect({ host: 'localhost', port: server.port, tls: true, timeout: 5000 }),
      );
      expect(untrusted).toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    } finally {
      await server.close();
    }
  });

  it('a StreamServer with tls hands its handlers TLS sockets, and node:tls clients talk to it', async () => {
    const server = new StreamServer(
      { port: 0 },
      async (sock) => {
        for (let line: string | null; (line = await sock.readLine()) !== null; )
          await sock.write(`tls: ${line}\n`);
      },
      { tls: { key, cert } },
    );
    await server.start();
    try {
      const reply = await new Promise<string>((resolve, reject) => {
        const client = tls.connect({
          host: '127.0.0.1',
          port: server.address.port,
          ca: cert,
          servername: 'localhost',
        });
        client.setEncoding('utf8');
        let got = '';
        client.on('data', (chunk: string) => {
          got += chunk;
          if (got.endsWith('\n')) {
            client.end();
            resolve(got);
          }
        });
        client.on('error', reject);
        client.write('hello\n');
      });
      expect(reply).toBe('tls: hello\n');
      await using sock = await connect({
        host: 'localhost',
        port: server.address.port,
        tls: { ca: cert },
        timeout: 5000,
      });
      await sock.write('again\n');
      expect(await sock.readLine()).toBe('tls: again');
    } finally {
      await server.stop();
    }
  });

  it('checks the name against an IP address too, and sends SNI for a name', async () => {
    const names: (string | false)[] = [];
    const server = tls.createServer({ key, cert }, (conn) => {
      names.push((conn as tls.TLSSocket & { servername: string | false }).servername);
      conn.end('bye');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      for (const host of ['127.0.0.1', 'localhost']) {
        await using sock = await connectTls({ host, port, tls: { ca: cert }, timeout: 5000 });
        expect(text(await sock.readExactly(3))).toBe('bye');
      }
      expect(names).toEqual([false, 'localhost']);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('node:tls client ↔ greenhub server (listen + accept + acceptTls)', async () => {
    using listener = listen({ port: 0 });
    const served = spawn(async () => {
      await using sock = await acceptTls(await listener.accept(), { key, cert, timeout: 5000 });
      for (let line = await sock.readLine(); line !== null; line = await sock.readLine()) {
        await sock.write(`${line.toUpperCase()}\n`);
      }
      await sock.end();
    });
    const client = tls.connect({
      port: listener.address.port,
      host: '127.0.0.1',
      servername: 'localhost',
      ca: cert,
    });
    const received: Buffer[] = [];
    client.on('data', (d: Buffer) => received.push(d));
    const ended = new Promise<void>((resolve, reject) => {
      client.on('end', resolve);
      client.on('error', reject);
    });
    await new Promise<void>((resolve) => client.once('secureConnect', resolve));
    client.end('one\ntwo\n');
    await ended;
    client.destroy();
    await served.get();
    expect(Buffer.concat(received).toString()).toBe('ONE\nTWO\n');
  });

  it('greenhub ↔ greenhub: both directions, 1 MiB each way intact', async () => {
    const [client, server] = await tlsPair();
    try {
      const up = randomBytes(1024 * 1024);
      const down = randomBytes(1024 * 1024);
      const serverSide = spawn(async () => {
        const writer = spawn(async () => {
          await server.write(down);
          await server.end();
        });
        const got = await server.readExactly(up.length);
        await writer.get();
        expect(await server.read()).toBeNull();
        return got;
      });
      const sender = spawn(async () => {
        await client.write(up);
        await client.end();
      });
      const got = await client.readExactly(down.length);
      expect(await client.read()).toBeNull();
      await sender.get();
      expect(Buffer.compare(Buffer.from(got), down)).toBe(0);
      expect(Buffer.compare(Buffer.from(await serverSide.get()), up)).toBe(0);
    } finally {
      client.close();
      server.close();
    }
  });

  it('rejects an untrusted certificate with Node’s code unless ca is given or rejectUnauthorized is false', async () => {
    const server = await nodeEchoServer();
    try {
      const err = await caught(connectTls({ host: 'localhost', port: server.port, timeout: 5000 }));
      expect((err as { code?: string }).code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
      const wrongName = await caught(
        connectTls({
          host: '127.0.0.1',
          port: server.port,
          servername: 'example.com',
          tls: { ca: cert },
          timeout: 5000,
        }),
      );
      expect((wrongName as { code?: string }).code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
      await using ok = await connectTls({
        port: server.port,
        tls: { rejectUnauthorized: false },
        timeout: 5000,
      });
      await ok.write('x\n');
      expect(await ok.readLine()).toBe('x');
    } finally {
      await server.close();
    }
  });

  it('kill during the handshake interrupts it and leaves nothing open', async () => {
    using listener = listen({ port: 0 });
    const silent = spawn(() => listener.accept());
    const g = spawn(() => connectTls({ port: listener.address.port, tls: { ca: cert } }));
    await sleep(50);
    expect(g.dead).toBe(false);
    await g.kill();
    expect(g.dead).toBe(true);
    const peer = await silent.get();
    expect(await peer.read()).not.toBeNull(); // the ClientHello
    expect(await peer.read()).toBeNull(); // then the end of the TCP connection
    peer.close();
  });

  it('a handshake that takes too long → Timeout', async () => {
    using listener = listen({ port: 0 });
    const silent = spawn(() => listener.accept());
    const err = await caught(connectTls({ port: listener.address.port, tls: { ca: cert }, timeout: 100 }));
    expect(err).toBeInstanceOf(Timeout);
    const peer = await silent.get();
    for (let chunk = await peer.read(); chunk !== null; chunk = await peer.read()) {}
    peer.close();
  });

  it('startTls timeout and server side handshake timeout', async () => {
    using listener = listen({ port: 0 });
    const acc = spawn(async () => caught(acceptTls(await listener.accept(), { key, cert, timeout: 100 })));
    const raw = await connect({ port: listener.address.port });
    expect(await acc.get()).toBeInstanceOf(Timeout);
    expect(await raw.read()).toBeNull();
    raw.close();
  });

  it('closing the TLS socket closes the TCP one; a kill or Timeout of the user leaves the transport alone', async () => {
    const [client, server] = await tlsPair();
    // A Timeout aimed at a greenlet reading the TLS socket does not break the connection.
    const reader = spawn(() => client.read());
    await sleep(20);
    await reader.kill();
    expect(await caught(withTimeout(20, () => client.readLine()))).toBeInstanceOf(Timeout);
    await server.write('still here');
    expect(text(await client.readExactly(10))).toBe('still here');
    await client.write('last words');
    client.close(); // bytes whose write() resolved still go out before the TCP socket closes
    expect(text(await server.readExactly(10))).toBe('last words');
    expect(await server.read()).toBeNull();
    server.close();
  });

  it('startTls upgrades a plain connection after some cleartext (STARTTLS), with servername', async () => {
    using listener = listen({ port: 0 });
    const served = spawn(async () => {
      const raw = await listener.accept();
      expect(await raw.readLine()).toBe('STARTTLS');
      await raw.write('GO\n');
      await using sock = await acceptTls(raw, { key, cert, timeout: 5000 });
      await sock.write(`hi ${await sock.readLine()}\n`);
    });
    const raw = await connect({ port: listener.address.port });
    await raw.write('STARTTLS\n');
    expect(await raw.readLine()).toBe('GO');
    await using sock = await startTls(raw, { servername: 'localhost', ca: cert, timeout: 5000 });
    await sock.write('you\n');
    expect(await sock.readLine()).toBe('hi you');
    await served.get();
    expect(await sock.read()).toBeNull();
  });

  it('an aborted signal interrupts the handshake with its reason', async () => {
    using listener = listen({ port: 0 });
    const silent = spawn(() => listener.accept());
    const ac = new AbortController();
    const pending = caught(connectTls({ port: listener.address.port, tls: { ca: cert }, signal: ac.signal }));
    await sleep(20);
    const reason = new Error('stop');
    ac.abort(reason);
    expect(await pending).toBe(reason);
    const peer = await silent.get();
    for (let chunk = await peer.read(); chunk !== null; chunk = await peer.read()) {}
    peer.close();
  });
  it('server side: requestCert verifies the client certificate', async () => {
    using listener = listen({ port: 0 });
    for (const withCert of [true, false]) {
      const served = spawn(async () =>
        caught(
          (async () => {
            await using sock = await acceptTls(await listener.accept(), {
              key,
              cert,
              ca: cert,
              requestCert: true,
              timeout: 5000,
            });
            const info = tlsInfo(sock);
            expect(info?.authorized).toBe(true);
            expect(info?.peerCertificate.subject.CN).toBe('localhost');
            expect(info?.servername).toBe('localhost');
            await sock.write('welcome\n');
          })(),
        ),
      );
      const client = await caught(
        (async () => {
          await using sock = await connectTls({
            host: 'localhost',
            port: listener.address.port,
            tls: withCert ? { ca: cert, key, cert } : { ca: cert },
            timeout: 5000,
          });
          expect(await sock.readLine()).toBe('welcome');
        })(),
      );
      const serverErr = await served.get();
      if (withCert) {
        expect(serverErr).toBeUndefined();
        expect(client).toBeUndefined();
      } else {
        expect(serverErr).toBeInstanceOf(Error);
        expect(client).toBeInstanceOf(Error);
      }
    }
  });
});

describeEachHub('DuplexStream', () => {
  it('calls each write callback exactly once, with ECANCELED after close', async () => {
    const written: Buffer[] = [];
    const stuck = new Duplex({
      read: () => {},
      write: (chunk: Buffer, _enc, _cb) => {
        written.push(chunk); // never completes
      },
    });
    const stream = new DuplexStream(stuck);
    const results: (string | null)[] = [];
    const data = new Uint8Array([1, 2, 3]);
    stream.write(data, (err) => results.push(err ? ((err as { code?: string }).code ?? 'error') : null));
    data[0] = 9; // the stream copied the bytes
    stream.write([new Uint8Array([4]), new Uint8Array([5])], (err) =>
      results.push(err ? ((err as { code?: string }).code ?? 'error') : null),
    );
    expect(stream.writeQueueSize).toBe(5);
    stream.close();
    expect(stream.closed).toBe(true);
    expect(() => stream.write(new Uint8Array([1]))).toThrow();
    expect(results).toEqual([]);
    await sleep(10);
    expect(results).toEqual(['ECANCELED', 'ECANCELED']);
    expect([...written[0]!]).toEqual([1, 2, 3]);
  });

  it('delivers data, then the end of stream once reading starts', async () => {
    const src = new Duplex({ read: () => {}, write: (_c, _e, cb) => cb() });
    const stream = new DuplexStream(src);
    src.push(Buffer.from('ab'));
    src.push(null);
    const got: (string | null)[] = [];
    await sleep(5);
    stream.readStart((chunk) => got.push(chunk === null ? null : Buffer.from(chunk).toString()));
    await sleep(5);
    expect(got).toEqual(['ab', null]);
    stream.close();
  });
});
