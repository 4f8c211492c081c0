import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import type { Stream } from '../hub/index.js';
import { codeOf, expectThrowsCode, type HubTest, type Suite, useHub } from './internal/harness.js';
import {
  connect,
  hubPair,
  listen,
  MORE_THAN_KERNEL_BUFFERS,
  nodeConnect,
  nodeServer,
  pattern,
} from './internal/streams.js';
import { deferred, turns, until, within } from './internal/wait.js';

/** Records every call of a one-shot callback, to check it runs exactly once. */
function once(): {
  cb: (err: Error | null) => void;
  calls: Array<Error | null>;
  wait(what: string): Promise<Error | null>;
} {
  const calls: Array<Error | null> = [];
  const first = deferred<Error | null>();
  return {
    calls,
    cb: (err) => {
      calls.push(err);
      first.resolve(err);
    },
    wait: (what) => within(3000, what, first.promise),
  };
}

/** A stream whose peer does not read, with a write still queued in the hub. */
async function streamWithQueuedWrite(
  t: HubTest,
): Promise<{ stream: Stream; write: ReturnType<typeof once> }> {
  const { client } = await hubPair(t);
  const write = once();
  client.write(pattern(MORE_THAN_KERNEL_BUFFERS, 7), write.cb);
  await until(() => client.writeQueueSize > 0 || write.calls.length > 0, 'the write to queue');
  expect(write.calls, 'a 32 MiB write to a peer that does not read already completed').toEqual([]);
  return { stream: client, write };
}

/**
 * One-shot requests (connect, write, shutdown, send) call back exactly once,
 * with ECANCELED when their handle closed first; after an object's close()
 * none of its callbacks runs again.
 */
export function requests(suite: Suite): void {
  describe('requests and close()', () => {
    const t = useHub(suite);

    it('a connect cancelled with cancel() calls back once with ECANCELED and no stream', async () => {
      const { listener } = listen(t());
      const calls: Array<{ err: Error | null; stream: Stream | undefined }> = [];
      const done = deferred();
      const handle = t().hub.connect({ host: '127.0.0.1', port: listener.address.port }, (err, stream) => {
        stream?.close();
        calls.push({ err, stream });
        done.resolve();
      });
      handle.cancel();
      handle.cancel();
      await within(2000, 'the connect callback', done.promise);
      await turns(t().hub);
      expect(calls).toHaveLength(1);
      expect(codeOf(calls[0]?.err)).toBe('ECANCELED');
      expect(calls[0]?.stream).toBeUndefined();
    });

    it('cancel() after a connect completed changes nothing', async () => {
      const { listener } = listen(t());
      let calls = 0;
      const connected = deferred<Stream>();
      const handle = t().hub.connect({ host: '127.0.0.1', port: listener.address.port }, (err, stream) => {
        calls++;
        if (stream) connected.resolve(stream);
        else connected.reject(err);
      });
      const stream = await within(2000, 'the connection', connected.promise);
      t().defer(() => stream.close());
      handle.cancel();
      await turns(t().hub);
      expect(calls).toBe(1);
      expect(stream.closed).toBe(false);
    });

    it('a write pending when the stream closes calls back once with ECANCELED', async () => {
      const { stream, write } = await streamWithQueuedWrite(t());
      stream.close();
      expect(codeOf(await write.wait('the pending write callback'))).toBe('ECANCELED');
      await turns(t().hub);
      expect(write.calls).toHaveLength(1);
    });

    it('a shutdown pending when the stream closes calls back once with ECANCELED', async () => {
      const { stream, write } = await streamWithQueuedWrite(t());
      const shutdown = once();
      stream.shutdown(shutdown.cb);
      stream.close();
      expect(codeOf(await shutdown.wait('the pending shutdown callback'))).toBe('ECANCELED');
      expect(codeOf(await write.wait('the pending write callback'))).toBe('ECANCELED');
      await turns(t().hub);
      expect(shutdown.calls).toHaveLength(1);
      expect(write.calls).toHaveLength(1);
    });

    it('a stream closed inside onRead gets no further onRead, even with more data waiting', async () => {
      const peer = await nodeServer(t());
      const stream = await connect(t(), { host: '127.0.0.1', port: peer.port });
      const socket = await peer.sockets.next('the node:net server to accept');
      for (let i = 0; i < 20; i++) socket.write(pattern(64 * 1024, i));
      let reads = 0;
      const first = deferred();
      stream.readStart(() => {
        reads++;
        stream.close();
        first.resolve();
      });
      await within(2000, 'the first read', first.promise);
      await turns(t().hub, 5);
      expect(reads).toBe(1);
    });

    it('a listener closed with a connection waiting in its backlog never calls onConnection', async () => {
      const { listener, accepted } = listen(t());
      listener.stop();
      const socket = await nodeConnect(t(), { port: listener.address.port });
      const gone = deferred();
      socket.on('close', () => gone.resolve());
      listener.close();
      await within(2000, 'the queued connection to be dropped', gone.promise);
      await turns(t().hub);
      expect(accepted.count).toBe(0);
    });

    it('a listener closed inside onConnection gets no further onConnection, even with connections waiting', async () => {
      const listener = t().hub.listen({ host: '127.0.0.1', port: 0 });
      t().defer(() => listener.close());
      listener.stop();
      const clients = await Promise.all(
        Array.from({ length: 5 }, () => nodeConnect(t(), { port: listener.address.port })),
      );
      const closed = clients.map((c) => new Promise<void>((resolve) => c.once('close', () => resolve())));
      let connections = 0;
      listener.start(
        (stream) => {
          connections++;
          stream.close();
          listener.close();
        },
        () => undefined,
      );
      await within(2000, 'every waiting connection to be closed or dropped', Promise.all(closed));
      await turns(t().hub);
      expect(connections).toBe(1);
    });

    it('a datagram socket closed inside onMessage gets no further onMessage', async () => {
      const udp = t().hub.udp({ host: '127.0.0.1', port: 0 });
      t().defer(() => udp.close());
      const sender = dgram.createSocket('udp4');
      t().defer(() => sender.close());
      let messages = 0;
      const first = deferred();
      udp.recvStart(() => {
        messages++;
        udp.close();
        first.resolve();
      });
      for (let i = 0; i < 10; i++) sender.send(Buffer.from(`datagram ${i}`), udp.address.port, '127.0.0.1');
      await within(2000, 'the first datagram', first.promise);
      await turns(t().hub, 5);
      expect(messages).toBe(1);
    });

    it('a send pending when the datagram socket closes calls back exactly once', async () => {
      const udp = t().hub.udp({ host: '127.0.0.1', port: 0 });
      const send = once();
      udp.send(Buffer.from('bye'), { address: '127.0.0.1', port: udp.address.port, family: 'IPv4' }, send.cb);
      udp.close();
      const err = await send.wait('the send callback');
      if (err !== null) expect(codeOf(err)).toBe('ECANCELED');
      await turns(t().hub);
      expect(send.calls).toHaveLength(1);
    });

    it('a closed datagram socket refuses new work with ERR_HUB_CLOSED, and close() twice is harmless', () => {
      const udp = t().hub.udp({ host: '127.0.0.1', port: 0 });
      udp.close();
      udp.close();
      expectThrowsCode(
        () => udp.send(Buffer.from('x'), { address: '127.0.0.1', port: 9, family: 'IPv4' }),
        'ERR_HUB_CLOSED',
        'send() after close()',
      );
      expectThrowsCode(() => udp.recvStart(() => undefined), 'ERR_HUB_CLOSED', 'recvStart() after close()');
    });
  });
}
