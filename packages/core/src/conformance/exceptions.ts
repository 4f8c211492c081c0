import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { type HubTest, type ReportedError, type Suite, useHub } from './internal/harness.js';
import { closedPort, hubPair, listen, nodeConnect } from './internal/streams.js';
import { deferred, until, within } from './internal/wait.js';

class Boom extends Error {}

/** Wait for exactly one report of `boom`, then show that the hub still runs a callback. */
async function expectReported(t: HubTest, boom: Boom, what: string): Promise<ReportedError> {
  await until(() => t.errors.length > 0, `onError after an exception in ${what}`, 2000);
  const reported = t.takeErrors();
  expect(reported.map((r) => r.error)).toEqual([boom]);
  const first = reported[0] as ReportedError;
  expect(typeof first.context, `the context onError got for ${what}`).toBe('string');
  expect(first.context.length, `the context onError got for ${what}`).toBeGreaterThan(0);
  const alive = deferred();
  t.hub.callback(() => alive.resolve());
  await within(1000, `a callback after the exception in ${what}`, alive.promise);
  return first;
}

/** Every kind of callback a hub runs reports what it throws to onError, and the hub keeps going. */
export function exceptions(suite: Suite): void {
  describe('exceptions thrown by callbacks', () => {
    const t = useHub(suite);

    it('an exception thrown by onConnection goes to onError, and the listener keeps accepting', async () => {
      const boom = new Boom('boom in onConnection');
      const listener = t().hub.listen({ host: '127.0.0.1', port: 0 });
      t().defer(() => listener.close());
      let calls = 0;
      listener.start(
        (stream) => {
          t().defer(() => stream.close());
          calls++;
          if (calls === 1) throw boom;
        },
        () => undefined,
      );
      await nodeConnect(t(), { port: listener.address.port });
      await expectReported(t(), boom, 'onConnection');
      await nodeConnect(t(), { port: listener.address.port });
      await until(() => calls === 2, 'the second connection', 2000);
    });

    it('an exception thrown by onRead goes to onError, and reading goes on', async () => {
      const boom = new Boom('boom in onRead');
      const { client, server } = await hubPair(t());
      let bytes = 0;
      server.readStart((chunk) => {
        const first = bytes === 0;
        bytes += chunk?.byteLength ?? 0;
        if (first) throw boom;
      });
      client.write(Buffer.from('first'));
      await expectReported(t(), boom, 'onRead');
      client.write(Buffer.from('second'));
      await until(() => bytes === 11, 'the bytes after the exception', 2000);
    });

    it('an exception thrown by a write or shutdown callback goes to onError', async () => {
      const { client } = await hubPair(t());
      const boomWrite = new Boom('boom in a write callback');
      client.write(Buffer.from('x'), () => {
        throw boomWrite;
      });
      await expectReported(t(), boomWrite, 'a write callback');
      const boomShutdown = new Boom('boom in a shutdown callback');
      client.shutdown(() => {
        throw boomShutdown;
      });
      await expectReported(t(), boomShutdown, 'a shutdown callback');
    });

    it('an exception thrown by a connect callback goes to onError', async () => {
      const { listener } = listen(t());
      const boom = new Boom('boom in a connect callback');
      t().hub.connect({ host: '127.0.0.1', port: listener.address.port }, (_err, stream) => {
        if (stream) t().defer(() => stream.close());
        throw boom;
      });
      await expectReported(t(), boom, 'a connect callback');
      const failing = new Boom('boom in a failed connect callback');
      const port = await closedPort();
      t().hub.connect({ host: '127.0.0.1', port }, () => {
        throw failing;
      });
      await expectReported(t(), failing, 'a failed connect callback');
    });

    it('an exception thrown by onMessage or a send callback goes to onError, and receiving goes on', async () => {
      const udp = t().hub.udp({ host: '127.0.0.1', port: 0 });
      t().defer(() => udp.close());
      const boom = new Boom('boom in onMessage');
      let messages = 0;
      udp.recvStart(() => {
        messages++;
        if (messages === 1) throw boom;
      });
      const sender = dgram.createSocket('udp4');
      t().defer(() => sender.close());
      sender.send('one', udp.address.port, '127.0.0.1');
      await expectReported(t(), boom, 'onMessage');
      sender.send('two', udp.address.port, '127.0.0.1');
      await until(() => messages === 2, 'the datagram after the exception', 2000);
      const boomSend = new Boom('boom in a send callback');
      udp.send(Buffer.from('self'), udp.address, () => {
        throw boomSend;
      });
      await expectReported(t(), boomSend, 'a send callback');
    });

    it('an onError that throws itself does not stop the hub', async () => {
      const hub = suite.createHub({
        onError: () => {
          throw new Error('onError failed too');
        },
      });
      t().defer(() => hub.close());
      // A hub may print what onError could not take; keep that out of the test output.
      const original = console.error;
      console.error = () => undefined;
      try {
        hub.callback(() => {
          throw new Boom('boom with a failing onError');
        });
        const alive = deferred();
        hub.callback(() => alive.resolve());
        await within(1000, 'the callback after the failing onError', alive.promise);
      } finally {
        console.error = original;
      }
      expect(hub.stats()).toEqual({ active: 0, referenced: 0, open: 0 });
    });
  });
}
