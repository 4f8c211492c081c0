import { describe, expect, it } from 'vitest';
import { type Suite, useHub } from './internal/harness.js';
import {
  connect,
  hubPair,
  MORE_THAN_KERNEL_BUFFERS,
  nodeCollect,
  nodeServer,
  pattern,
  Reader,
  sha256,
} from './internal/streams.js';
import { deferred, turns, until, within } from './internal/wait.js';

/**
 * Wait until a node:net socket's unsent bytes stop going down: the kernel
 * buffers between it and the hub are full. Polls the observable state, it
 * does not sleep for a fixed time.
 */
async function peerBacklogSettles(socket: { writableLength: number }, what: string): Promise<number> {
  const STEADY_MS = 50;
  let last = -1;
  let since = performance.now();
  await until(
    () => {
      const now = socket.writableLength;
      if (now !== last || now === 0) {
        last = now;
        since = performance.now();
        return false;
      }
      return performance.now() - since >= STEADY_MS;
    },
    what,
    5000,
    () => `peer writableLength ${socket.writableLength}`,
  );
  return last;
}

/** Flow control: readStop() pushes back on the peer, and writeQueueSize shows what the peer has not taken. */
export function backpressure(suite: Suite): void {
  describe('backpressure', () => {
    const t = useHub(suite);

    it('readStop() stops delivery until readStart(), which then delivers every byte exactly', async () => {
      const peer = await nodeServer(t());
      const stream = await connect(t(), { host: '127.0.0.1', port: peer.port });
      const socket = await peer.sockets.next('the node:net server to accept');
      const reader = new Reader(stream);
      socket.write('first');
      await reader.waitBytes(5, 'the first bytes');
      stream.readStop();
      const before = reader.total;
      const data = pattern(MORE_THAN_KERNEL_BUFFERS, 21);
      socket.write(data);
      const backlog = await peerBacklogSettles(socket, "the peer's write buffer to stop shrinking");
      expect(reader.total, 'bytes delivered after readStop()').toBe(before);
      expect(backlog, "bytes left in the peer's write buffer").toBeGreaterThan(0);
      stream.readStart(reader.onRead);
      const got = await reader.waitBytes(5 + data.length, 'every byte after readStart()', 10_000);
      expect(sha256(got.subarray(5)), 'the bytes after readStart() equal the bytes written').toBe(
        sha256(data),
      );
      expect(got.length).toBe(5 + data.length);
      stream.close();
    });

    it('readStop() called inside onRead stops delivery at once', async () => {
      const peer = await nodeServer(t());
      const stream = await connect(t(), { host: '127.0.0.1', port: peer.port });
      const socket = await peer.sockets.next('the node:net server to accept');
      const chunks: Uint8Array[] = [];
      const first = deferred();
      stream.readStart((chunk) => {
        if (chunk) chunks.push(chunk);
        stream.readStop();
        first.resolve();
      });
      const data = pattern(4 * 1024 * 1024, 22);
      socket.write(data);
      await within(2000, 'the first chunk', first.promise);
      await turns(t().hub, 5);
      expect(chunks, 'onRead calls after readStop() inside onRead').toHaveLength(1);
      const reader = new Reader(stream, false);
      reader.chunks.push(...chunks);
      reader.total = chunks.reduce((n, c) => n + c.byteLength, 0);
      reader.start();
      const got = await reader.waitBytes(data.length, 'the rest after readStart()', 10_000);
      expect(sha256(got)).toBe(sha256(data));
      stream.close();
    });

    it("readStop() of another stream inside onRead holds back that stream's data too, even data already read", async () => {
      // Two streams with data waiting when they start reading: a hub may read both in one wakeup
      // (hub-libev hands a wakeup's reads to JS together). Whichever is called first stops the
      // other, which must then get nothing until its readStart(), and then every byte.
      const peer = await nodeServer(t());
      const streams = [
        await connect(t(), { host: '127.0.0.1', port: peer.port }),
        await connect(t(), { host: '127.0.0.1', port: peer.port }),
      ];
      const sockets = [
        await peer.sockets.next('the node:net server to accept'),
        await peer.sockets.next('the node:net server to accept'),
      ];
      const data = [pattern(1000, 23), pattern(1000, 24)];
      await Promise.all(
        sockets.map((socket, i) => new Promise<void>((resolve) => socket.write(data[i]!, () => resolve()))),
      );
      const readers = streams.map((stream) => new Reader(stream, false));
      let first = -1;
      const callsWhileStopped = [0, 0];
      streams.forEach((stream, i) => {
        stream.readStart((chunk, err) => {
          if (first !== -1 && first !== i) callsWhileStopped[i]!++;
          readers[i]!.onRead(chunk, err);
          if (first === -1) {
            first = i;
            streams[1 - i]!.readStop();
          }
        });
      });
      await until(() => first !== -1, 'a first read', 2000);
      await turns(t().hub, 5);
      const other = 1 - first;
      expect(callsWhileStopped[other], 'onRead calls of the stopped stream').toBe(0);
      expect(readers[other]!.total, 'bytes delivered to the stopped stream').toBe(0);
      readers[other]!.start();
      const got = await readers[other]!.waitBytes(data[other]!.length, 'its bytes after readStart()');
      expect(sha256(got), 'the bytes after readStart() equal the bytes written').toBe(sha256(data[other]!));
      for (const stream of streams) stream.close();
    });

    it('writeQueueSize grows while the peer does not read and drains to 0 when it does', async () => {
      const peer = await nodeServer(t());
      const stream = await connect(t(), { host: '127.0.0.1', port: peer.port });
      const socket = await peer.sockets.next('the node:net server to accept');
      socket.pause();
      expect(stream.writeQueueSize).toBe(0);
      const data = pattern(MORE_THAN_KERNEL_BUFFERS, 23);
      const chunk = 1024 * 1024;
      let done = 0;
      let failed: Error | null = null;
      for (let offset = 0; offset < data.length; offset += chunk) {
        stream.write(data.subarray(offset, offset + chunk), (err) => {
          failed ??= err;
          done++;
        });
      }
      expect(
        stream.writeQueueSize,
        'writeQueueSize after 32 MiB of writes to a peer that does not read',
      ).toBeGreaterThan(0);
      expect(stream.writeQueueSize).toBeLessThanOrEqual(data.length);
      await turns(t().hub);
      const queued = stream.writeQueueSize;
      expect(queued, 'writeQueueSize while the peer still does not read').toBeGreaterThan(0);
      expect(done, 'write callbacks before the peer read anything').toBeLessThan(32);
      const received = nodeCollect(socket);
      socket.resume();
      const got = await received.waitBytes(data.length, 'every byte at the peer', 10_000);
      await until(
        () => done === 32,
        'every write callback',
        5000,
        () => `${done} of 32`,
      );
      expect(failed).toBeNull();
      expect(stream.writeQueueSize, 'writeQueueSize once everything reached the kernel').toBe(0);
      expect(sha256(got)).toBe(sha256(data));
      stream.close();
    });

    it('a stream with writes pending is active; once they complete it is not', async () => {
      const { client, server } = await hubPair(t());
      const base = t().hub.stats().active;
      const reader = new Reader(server, false);
      const data = pattern(MORE_THAN_KERNEL_BUFFERS / 4, 24);
      const finished = deferred<Error | null>();
      client.write(data, (err) => finished.resolve(err));
      expect(t().hub.stats().active, 'active count with a write pending').toBeGreaterThan(base);
      reader.start();
      expect(await within(10_000, 'the write callback', finished.promise)).toBeNull();
      await reader.waitBytes(data.length, 'every byte', 10_000);
      server.readStop();
      await until(() => t().hub.stats().active === base, 'the stream to go inactive', 1000);
    });

    it('a write without a callback keeps the stream active just as long', async () => {
      const { client, server } = await hubPair(t());
      const base = t().hub.stats().active;
      const reader = new Reader(server, false);
      const data = pattern(MORE_THAN_KERNEL_BUFFERS / 4, 25);
      client.write(data);
      expect(t().hub.stats().active, 'active count with a write pending').toBeGreaterThan(base);
      reader.start();
      await reader.waitBytes(data.length, 'every byte', 10_000);
      server.readStop();
      await until(() => t().hub.stats().active === base, 'the stream to go inactive', 1000);
      expect(client.writeQueueSize).toBe(0);
    });
  });
}
