import { describe, expect, it } from 'vitest';
import { expectThrowsCode, type Suite, useHub } from './internal/harness.js';
import {
  connect,
  hubPair,
  listen,
  MORE_THAN_KERNEL_BUFFERS,
  nodeCollect,
  nodeConnect,
  nodeServer,
  pattern,
  Reader,
  write,
} from './internal/streams.js';
import { deferred, turns, until, within } from './internal/wait.js';

/** Byte streams over TCP: listen, connect, read, write, shutdown, close. */
export function streams(suite: Suite): void {
  describe('streams', () => {
    const t = useHub(suite);

    it('listen() binds synchronously: the address and port are known at once', () => {
      const listener = t().hub.listen({ host: '127.0.0.1', port: 0 });
      t().defer(() => listener.close());
      expect(listener.address).toEqual({ address: '127.0.0.1', port: expect.any(Number), family: 'IPv4' });
      expect(listener.address.port).toBeGreaterThan(0);
      listener.close();
    });

    it('listen() defaults to 127.0.0.1 and any free port', () => {
      const listener = t().hub.listen({});
      t().defer(() => listener.close());
      expect(listener.address.address).toBe('127.0.0.1');
      expect(listener.address.port).toBeGreaterThan(0);
      listener.close();
    });

    it('a listener hands a node:net client over as a stream that is not yet reading', async () => {
      const { listener, accepted } = listen(t());
      const client = await nodeConnect(t(), { port: listener.address.port });
      const fromClient = nodeCollect(client);
      client.write('hello hub');
      const stream = await accepted.next('the accepted stream');
      const reader = new Reader(stream);
      expect((await reader.waitBytes(9, 'bytes from the client')).toString()).toBe('hello hub');
      expect(await write(stream, Buffer.from('hello node'))).toBeNull();
      expect((await fromClient.waitBytes(10, 'bytes from the hub')).toString()).toBe('hello node');
      stream.close();
      listener.close();
    });

    it('connect() reaches a node:net server and exchanges bytes both ways', async () => {
      const peer = await nodeServer(t());
      const stream = await connect(t(), { host: '127.0.0.1', port: peer.port });
      const socket = await peer.sockets.next('the node:net server to accept');
      const fromHub = nodeCollect(socket);
      const reader = new Reader(stream);
      expect(await write(stream, Buffer.from('ping'))).toBeNull();
      expect((await fromHub.waitBytes(4, 'bytes from the hub')).toString()).toBe('ping');
      socket.write('pong');
      expect((await reader.waitBytes(4, 'bytes from node')).toString()).toBe('pong');
      stream.close();
    });

    it('a connect in progress is active, referenced work', async () => {
      const { listener } = listen(t());
      const base = t().hub.stats();
      const done = deferred();
      t().hub.connect({ host: '127.0.0.1', port: listener.address.port }, (_err, stream) => {
        stream?.close();
        done.resolve();
      });
      expect(t().hub.stats().active).toBe(base.active + 1);
      expect(t().hub.stats().referenced).toBe(base.referenced + 1);
      await within(2000, 'the connect callback', done.promise);
    });

    it('a connect callback runs from a later turn, never inside connect()', async () => {
      const { listener } = listen(t());
      let called = false;
      const done = deferred();
      t().hub.connect({ host: '127.0.0.1', port: listener.address.port }, (err, stream) => {
        called = true;
        stream?.close();
        done.resolve();
        if (err) throw err;
      });
      expect(called).toBe(false);
      await within(2000, 'the connect callback', done.promise);
    });

    it('a stream knows its local and remote addresses, as the peer sees them', async () => {
      const peer = await nodeServer(t());
      const stream = await connect(t(), { host: '127.0.0.1', port: peer.port });
      const socket = await peer.sockets.next('the node:net server to accept');
      expect(stream.remoteAddress).toEqual({ address: '127.0.0.1', port: peer.port, family: 'IPv4' });
      expect(stream.localAddress).toEqual({ address: '127.0.0.1', port: socket.remotePort, family: 'IPv4' });
      stream.close();
      expect(stream.closed).toBe(true);
    });

    it('addresses first asked for after close() are still known (greenhub reads them only when asked)', async () => {
      const peer = await nodeServer(t());
      const stream = await connect(t(), { host: '127.0.0.1', port: peer.port });
      const socket = await peer.sockets.next('the node:net server to accept');
      stream.close();
      expect(stream.remoteAddress).toEqual({ address: '127.0.0.1', port: peer.port, family: 'IPv4' });
      expect(stream.localAddress).toEqual({ address: '127.0.0.1', port: socket.remotePort, family: 'IPv4' });
    });

    it('write() takes a Uint8Array or an array of them, and the peer receives every byte in order', async () => {
      const { client, server } = await hubPair(t());
      const reader = new Reader(server);
      const parts = [pattern(10, 1), pattern(70_000, 2), new Uint8Array(0), pattern(3, 3)];
      const one = pattern(5000, 4);
      const callbacks: string[] = [];
      client.write(parts, (err) => callbacks.push(`array ${err}`));
      client.write(one, (err) => callbacks.push(`single ${err}`));
      client.write(new Uint8Array(0), (err) => callbacks.push(`empty ${err}`));
      const expected = Buffer.concat([...parts, one]);
      const got = await reader.waitBytes(expected.length, 'all the bytes');
      expect(got.equals(expected), 'bytes received equal bytes written').toBe(true);
      await until(() => callbacks.length === 3, 'three write callbacks');
      expect(callbacks).toEqual(['array null', 'single null', 'empty null']);
    });

    it('write() copies its data: the caller may reuse the buffer as soon as write() returns', async () => {
      const { client, server } = await hubPair(t());
      // Fill the kernel buffers first, so that the writes below have to wait in the hub's queue.
      const filler = pattern(MORE_THAN_KERNEL_BUFFERS / 2, 5);
      client.write(filler);
      await until(() => client.writeQueueSize > 0, 'the filler to back up in the write queue');
      const buffer = Buffer.from('original bytes');
      const array = [Buffer.from('first part '), Buffer.from('second part')];
      client.write(buffer);
      buffer.fill(0x58);
      client.write(array);
      for (const part of array) part.fill(0x59);
      const reader = new Reader(server);
      const got = await reader.waitBytes(filler.length + 36, 'the written bytes', 10_000);
      expect(got.subarray(filler.length).toString()).toBe('original bytesfirst part second part');
    });

    it('write callbacks run once each, after write() returns, in the order of the writes', async () => {
      const { client } = await hubPair(t());
      const order: string[] = [];
      let returned = false;
      for (let i = 0; i < 10; i++) {
        client.write(pattern(1000, i), (err) => {
          order.push(`${i}${err ? ` ${String(err)}` : ''}${returned ? '' : ' (inside write())'}`);
        });
      }
      returned = true;
      await until(() => order.length >= 10, 'ten write callbacks');
      await turns(t().hub);
      expect(order).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    });

    it('the chunks passed to onRead belong to the callee: later reads never overwrite them', async () => {
      const peer = await nodeServer(t());
      const stream = await connect(t(), { host: '127.0.0.1', port: peer.port });
      const socket = await peer.sockets.next('the node:net server to accept');
      const reader = new Reader(stream);
      const pieces = Array.from({ length: 40 }, (_, i) => pattern(16 * 1024 + i, i + 10));
      for (const piece of pieces) socket.write(piece);
      const total = pieces.reduce((n, p) => n + p.length, 0);
      await reader.waitBytes(total, 'every piece', 5000);
      expect(reader.chunks.length).toBeGreaterThan(1);
      expect(reader.bytes().equals(Buffer.concat(pieces)), 'chunks kept by the callee are intact').toBe(true);
      stream.close();
    });

    it('shutdown() half-closes: the peer sees end of stream and can still write back', async () => {
      const peer = await nodeServer(t());
      const stream = await connect(t(), { host: '127.0.0.1', port: peer.port });
      const socket = await peer.sockets.next('the node:net server to accept');
      socket.allowHalfOpen = true;
      const fromHub = nodeCollect(socket);
      const reader = new Reader(stream);
      stream.write(Buffer.from('request'));
      const shut = deferred<Error | null>();
      stream.shutdown((err) => shut.resolve(err));
      expect(await within(2000, 'the shutdown callback', shut.promise)).toBeNull();
      expect((await fromHub.waitEnd('end of stream at the peer')).toString()).toBe('request');
      socket.end('reply after end');
      expect((await reader.waitEnd('the reply, then end of stream')).toString()).toBe('reply after end');
      expect(reader.callsAfterEnd).toBe(0);
      stream.close();
    });

    it('shutdown() waits for queued writes: the peer gets every byte, then end of stream', async () => {
      const peer = await nodeServer(t());
      const stream = await connect(t(), { host: '127.0.0.1', port: peer.port });
      const socket = await peer.sockets.next('the node:net server to accept');
      socket.pause();
      const fromHub = nodeCollect(socket);
      const data = pattern(MORE_THAN_KERNEL_BUFFERS / 4, 6);
      const order: string[] = [];
      stream.write(data, (err) => order.push(`write ${err}`));
      stream.shutdown((err) => order.push(`shutdown ${err}`));
      expect(stream.writeQueueSize, 'bytes still queued when shutdown() was called').toBeGreaterThan(0);
      socket.resume();
      const got = await fromHub.waitEnd('every byte, then end of stream', 10_000);
      expect(got.equals(data), 'bytes before end of stream').toBe(true);
      await until(() => order.length === 2, 'the write and shutdown callbacks');
      expect(order).toEqual(['write null', 'shutdown null']);
      stream.close();
    });

    it('stats().open counts listeners and streams until they are closed', async () => {
      const { client, server, listener } = await hubPair(t());
      expect(t().hub.stats().open).toBe(3);
      client.close();
      expect(t().hub.stats().open).toBe(2);
      server.close();
      listener.close();
      expect(t().hub.stats().open).toBe(0);
    });

    it('data and end of stream that arrive while not reading are delivered at the next readStart()', async () => {
      const { listener, accepted } = listen(t());
      const socket = await nodeConnect(t(), { port: listener.address.port });
      const stream = await accepted.next('the accepted stream');
      const finished = new Promise<void>((resolve) => socket.once('finish', () => resolve()));
      socket.end('bytes');
      await within(2000, 'the peer to send its end of stream', finished);
      await turns(t().hub);
      const reader = new Reader(stream);
      expect((await reader.waitEnd('the bytes, then end of stream')).toString()).toBe('bytes');
      stream.close();
    });

    it("a peer's half-close reaches onRead as null, and the stream can still write", async () => {
      const { listener, accepted } = listen(t());
      const socket = await nodeConnect(t(), { port: listener.address.port });
      socket.allowHalfOpen = true;
      const fromHub = nodeCollect(socket);
      socket.end('last words');
      const stream = await accepted.next('the accepted stream');
      const reader = new Reader(stream);
      expect((await reader.waitEnd('end of stream')).toString()).toBe('last words');
      expect(await write(stream, Buffer.from('answer'))).toBeNull();
      expect((await fromHub.waitBytes(6, 'the answer')).toString()).toBe('answer');
      await turns(t().hub);
      expect(reader.callsAfterEnd, 'onRead calls after end of stream').toBe(0);
    });

    it('close() is immediate and idempotent, and onRead is never called again', async () => {
      const peer = await nodeServer(t());
      const stream = await connect(t(), { host: '127.0.0.1', port: peer.port });
      const socket = await peer.sockets.next('the node:net server to accept');
      let reads = 0;
      stream.readStart(() => reads++);
      const closed = deferred();
      socket.on('close', () => closed.resolve());
      stream.close();
      stream.close();
      expect(stream.closed).toBe(true);
      expect(t().hub.stats().open, 'open objects right after close()').toBe(0);
      socket.write('too late');
      await within(2000, 'the peer to see the connection close', closed.promise);
      await turns(t().hub);
      expect(reads).toBe(0);
    });

    it('a closed stream refuses new work with ERR_HUB_CLOSED', async () => {
      const { client } = await hubPair(t());
      client.close();
      expectThrowsCode(() => client.write(Buffer.from('x')), 'ERR_HUB_CLOSED', 'write() after close()');
      expectThrowsCode(
        () => client.readStart(() => undefined),
        'ERR_HUB_CLOSED',
        'readStart() after close()',
      );
      expectThrowsCode(() => client.shutdown(), 'ERR_HUB_CLOSED', 'shutdown() after close()');
    });

    it('setNoDelay() and setKeepAlive() do not throw on a connected stream', async () => {
      const { client, server } = await hubPair(t());
      client.setNoDelay(true);
      client.setNoDelay(false);
      client.setKeepAlive(true, 1000);
      client.setKeepAlive(false);
      server.setKeepAlive(true);
      const reader = new Reader(server);
      client.write(Buffer.from('still works'));
      expect((await reader.waitBytes(11, 'bytes')).toString()).toBe('still works');
    });

    it('a reading stream is active and referenced; unref() takes it out of the referenced count', async () => {
      const { client, listener } = await hubPair(t());
      listener.close();
      const before = t().hub.stats();
      client.readStart(() => undefined);
      expect(t().hub.stats().active).toBe(before.active + 1);
      expect(t().hub.stats().referenced).toBe(before.referenced + 1);
      client.unref();
      expect(t().hub.stats().referenced).toBe(before.referenced);
      client.ref();
      client.readStop();
      expect(t().hub.stats()).toEqual(before);
    });

    it('listener.stop() pauses accepting and start() resumes it with the queued connection', async () => {
      const { listener, accepted } = listen(t());
      listener.stop();
      expect(t().hub.stats().active).toBe(0);
      const socket = await nodeConnect(t(), { port: listener.address.port });
      socket.write('queued');
      await turns(t().hub);
      expect(accepted.count, 'connections accepted while stopped').toBe(0);
      listener.start(
        (stream) => {
          t().defer(() => stream.close());
          accepted.push(stream);
        },
        (err) => {
          throw err;
        },
      );
      const stream = await accepted.next('the connection queued while stopped');
      const reader = new Reader(stream);
      expect((await reader.waitBytes(6, 'bytes')).toString()).toBe('queued');
    });

    it('a closed listener accepts nothing more, refuses start(), and close() twice is harmless', async () => {
      const { listener, accepted } = listen(t());
      const { port } = listener.address;
      listener.close();
      listener.close();
      expectThrowsCode(
        () =>
          listener.start(
            () => undefined,
            () => undefined,
          ),
        'ERR_HUB_CLOSED',
        'start() after close()',
      );
      const refused = deferred<Error | null>();
      t().hub.connect({ host: '127.0.0.1', port }, (err, stream) => {
        stream?.close();
        refused.resolve(err);
      });
      expect(
        (await within(2000, 'the connect callback', refused.promise)) as { code?: string },
      ).toMatchObject({
        code: 'ECONNREFUSED',
      });
      expect(accepted.count).toBe(0);
    });
  });
}
