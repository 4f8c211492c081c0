import { describe, expect, it } from 'vitest';
import type { Stream } from '../hub/stream.js';
import { codeOf, expectThrowsCode, type Suite, useHub } from './internal/harness.js';
import { closedPort, connect, listen, nodeServer, Reader, write } from './internal/streams.js';
import { deferred, turns, within } from './internal/wait.js';

/** Errors carry Node's `code` strings, identical on every hub. */
export function errors(suite: Suite): void {
  describe('error codes', () => {
    const t = useHub(suite);

    /** A stream whose peer (a node:net socket) has reset the connection and is gone. */
    async function resetStream(): Promise<Stream> {
      const peer = await nodeServer(t());
      const stream = await connect(t(), { host: '127.0.0.1', port: peer.port });
      const socket = await peer.sockets.next('the node:net server to accept');
      const gone = deferred();
      socket.on('close', () => gone.resolve());
      socket.resetAndDestroy();
      await within(2000, 'the peer socket to close', gone.promise);
      return stream;
    }

    /** Ten writes of 1 KiB without a callback, a hub turn apart. */
    async function writeBlind(stream: Stream): Promise<void> {
      for (let i = 0; i < 10; i++) {
        stream.write(Buffer.alloc(1024, i));
        await turns(t().hub);
      }
    }

    it('connect() to a closed port calls back once with ECONNREFUSED, shaped like a Node system error', async () => {
      const port = await closedPort();
      const results: Array<{ err: Error | null; stream: unknown }> = [];
      const done = deferred();
      t().hub.connect({ host: '127.0.0.1', port }, (err, stream) => {
        results.push({ err, stream });
        done.resolve();
      });
      await within(2000, 'the connect callback', done.promise);
      await turns(t().hub);
      expect(results).toHaveLength(1);
      const { err, stream } = results[0] ?? { err: null, stream: null };
      expect(stream).toBeUndefined();
      expect(err).toBeInstanceOf(Error);
      expect(codeOf(err)).toBe('ECONNREFUSED');
      expect(err?.message).toContain('ECONNREFUSED');
    });

    it('a peer that resets the connection ends reading with ECONNRESET', async () => {
      const peer = await nodeServer(t());
      const stream = await connect(t(), { host: '127.0.0.1', port: peer.port });
      const socket = await peer.sockets.next('the node:net server to accept');
      const reader = new Reader(stream);
      socket.write('before the reset');
      await reader.waitBytes(16, 'bytes sent before the reset');
      socket.resetAndDestroy();
      const err = await reader.waitError('the reset');
      expect(err).toBeInstanceOf(Error);
      expect(codeOf(err)).toBe('ECONNRESET');
      await turns(t().hub);
      expect(reader.callsAfterEnd, 'onRead calls after the error').toBe(0);
      stream.close();
    });

    it('a write after the peer reset the connection fails with EPIPE or ECONNRESET', async () => {
      const stream = await resetStream();
      let err: Error | null = null;
      for (let i = 0; i < 10 && err === null; i++) err = await write(stream, Buffer.alloc(1024, i));
      expect(err, 'every write after the reset succeeded').toBeInstanceOf(Error);
      expect(['EPIPE', 'ECONNRESET']).toContain(codeOf(err));
      stream.close();
    });

    it('a write without a callback after the peer reset fails silently: no throw, nothing to onError', async () => {
      // Fire-and-forget writes (net's HTTP server sends its responses so) learn of a broken connection
      // from the read side; the hub must neither throw nor report their failure.
      const stream = await resetStream();
      await writeBlind(stream);
      expect(t().errors).toEqual([]);
      stream.close();
    });

    it('after a write failed, shutdown() fails with that error, even when the writes had no callback', async () => {
      // A writer that never waits learns at end() that its bytes went nowhere, with the same code on
      // every hub (the kernel's own answer to a shutdown of a reset socket, ENOTCONN, is not one).
      const stream = await resetStream();
      await writeBlind(stream);
      const shutdown = deferred<Error | null>();
      stream.shutdown((err) => shutdown.resolve(err));
      const err = await within(2000, 'the shutdown callback', shutdown.promise);
      expect(err, 'shutdown() after failed writes succeeded').toBeInstanceOf(Error);
      expect(['EPIPE', 'ECONNRESET']).toContain(codeOf(err));
      stream.close();
    });

    it('listen() on a port in use throws EADDRINUSE at once', async () => {
      const { listener } = listen(t());
      expectThrowsCode(
        () => t().hub.listen({ host: '127.0.0.1', port: listener.address.port }),
        'EADDRINUSE',
        'listen() on a port a hub listener holds',
      );
      const peer = await nodeServer(t());
      const err = expectThrowsCode(
        () => t().hub.listen({ host: '127.0.0.1', port: peer.port }),
        'EADDRINUSE',
        'listen() on a port a node:net server holds',
      );
      expect(err.message).toContain('EADDRINUSE');
    });

    it('listen() on an address this machine does not have throws EADDRNOTAVAIL at once', () => {
      // 192.0.2.0/24 is TEST-NET-1: documentation only, never assigned to a host.
      expectThrowsCode(
        () => t().hub.listen({ host: '192.0.2.1', port: 0 }),
        'EADDRNOTAVAIL',
        'listen() on 192.0.2.1',
      );
    });

    it('udp() on a port in use throws EADDRINUSE at once', () => {
      const first = t().hub.udp({ host: '127.0.0.1', port: 0 });
      t().defer(() => first.close());
      expectThrowsCode(
        () => t().hub.udp({ host: '127.0.0.1', port: first.address.port }),
        'EADDRINUSE',
        'udp() on a bound port',
      );
    });

    it('a host that is not a numeric IP address is refused with ERR_INVALID_IP_ADDRESS', async () => {
      const { hub } = t();
      expectThrowsCode(
        () => hub.listen({ host: 'localhost', port: 0 }),
        'ERR_INVALID_IP_ADDRESS',
        'listen()',
      );
      expectThrowsCode(() => hub.udp({ host: 'localhost', port: 0 }), 'ERR_INVALID_IP_ADDRESS', 'udp()');
      const calls: Array<Error | null> = [];
      let returned = false;
      let synchronous = false;
      const done = deferred();
      hub.connect({ host: 'localhost', port: 80 }, (err, stream) => {
        stream?.close();
        synchronous ||= !returned;
        calls.push(err);
        done.resolve();
      });
      returned = true;
      await within(2000, 'the connect callback', done.promise);
      await turns(hub);
      expect(synchronous, 'connect() called back synchronously').toBe(false);
      expect(calls).toHaveLength(1);
      expect(codeOf(calls[0])).toBe('ERR_INVALID_IP_ADDRESS');
    });
  });
}
