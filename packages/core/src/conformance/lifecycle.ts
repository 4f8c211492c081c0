import dgram from 'node:dgram';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Hub } from '../hub/index.js';
import { codeOf, expectThrowsCode, type Suite, useHub } from './internal/harness.js';
import {
  connect,
  hubPair,
  listen,
  MORE_THAN_KERNEL_BUFFERS,
  nodeServer,
  pattern,
} from './internal/streams.js';
import { deferred, until, within } from './internal/wait.js';

/** Every method of a hub, called the simplest way, to check each one after close(). */
const METHODS: Array<[string, (hub: Hub) => unknown]> = [
  ['callback()', (hub) => hub.callback(() => undefined)],
  ['timer()', (hub) => hub.timer(1)],
  ['signal()', (hub) => hub.signal('SIGWINCH')],
  ['listen()', (hub) => hub.listen({ host: '127.0.0.1', port: 0 })],
  ['connect()', (hub) => hub.connect({ host: '127.0.0.1', port: 9 }, () => undefined)],
  ['udp()', (hub) => hub.udp({ host: '127.0.0.1', port: 0 })],
  ['now()', (hub) => hub.now()],
  ['updateNow()', (hub) => hub.updateNow()],
  ['idleTime()', (hub) => hub.idleTime()],
  ['stats()', (hub) => hub.stats()],
];

/** The hub itself: identity, idle time, and close(). */
export function lifecycle(suite: Suite): void {
  describe('the hub and hub.close()', () => {
    const t = useHub(suite);

    it(`hub.name and hub.backend are non-empty strings${suite.name ? ` (name '${suite.name}')` : ''}`, () => {
      const { hub } = t();
      expect(typeof hub.name).toBe('string');
      expect(hub.name.length).toBeGreaterThan(0);
      if (suite.name) expect(hub.name).toBe(suite.name);
      expect(typeof hub.backend).toBe('string');
      expect(hub.backend.length).toBeGreaterThan(0);
    });

    it('idleTime() never decreases and never exceeds the time since the hub was created', async () => {
      const created = performance.now();
      const { hub } = t();
      const first = hub.idleTime();
      const timer = hub.timer(30);
      t().defer(() => timer.close());
      const fired = deferred();
      timer.start(() => fired.resolve());
      await within(1000, 'timer(30)', fired.promise);
      const second = hub.idleTime();
      expect(first).toBeGreaterThanOrEqual(0);
      expect(second).toBeGreaterThanOrEqual(first);
      expect(second).toBeLessThanOrEqual(performance.now() - created + 1);
    });

    it('idleTime() grows while the hub waits for a timer with nothing else to do', async () => {
      const { hub } = t();
      const timer = hub.timer(100);
      t().defer(() => timer.close());
      const before = hub.idleTime();
      const fired = deferred();
      timer.start(() => fired.resolve());
      await within(1000, 'timer(100)', fired.promise);
      const idle = hub.idleTime() - before;
      expect(idle, 'ms counted as idle during a 100 ms wait').toBeGreaterThanOrEqual(40);
      expect(idle).toBeLessThanOrEqual(1000);
    });

    it('a new hub has nothing active, referenced or open', () => {
      expect(t().hub.stats()).toEqual({ active: 0, referenced: 0, open: 0 });
    });

    it('hub.close() cancels every pending request with ECANCELED, each called back exactly once', async () => {
      const { hub } = t();
      const { client, listener } = await hubPair(t());
      const calls: string[] = [];
      const record = (what: string) => (err: Error | null) => calls.push(`${what} ${String(codeOf(err))}`);
      client.write(pattern(MORE_THAN_KERNEL_BUFFERS, 3), record('write'));
      client.shutdown(record('shutdown'));
      await until(() => client.writeQueueSize > 0 || calls.length > 0, 'the write to queue');
      expect(calls, 'the 32 MiB write to a peer that does not read already completed').toEqual([]);
      let inClose = true;
      hub.connect({ host: '127.0.0.1', port: listener.address.port }, (err, stream) => {
        stream?.close();
        calls.push(`connect ${String(codeOf(err))}${inClose ? ' (called inside hub.close())' : ''}`);
      });
      hub.close();
      inClose = false;
      await until(
        () => calls.length >= 3,
        'three request callbacks',
        2000,
        () => calls.join(', '),
      );
      await new Promise((resolve) => setImmediate(resolve));
      expect(calls.sort()).toEqual(['connect ECANCELED', 'shutdown ECANCELED', 'write ECANCELED']);
    });

    it('after hub.close() no callback of any of its objects runs', async () => {
      const { hub } = t();
      const peer = await nodeServer(t());
      const stream = await connect(t(), { host: '127.0.0.1', port: peer.port });
      const socket = await peer.sockets.next('the node:net server to accept');
      // Everything below is set up in one synchronous stretch, so nothing can fire before close().
      const ran: string[] = [];
      socket.write('sent before close');
      stream.readStart(() => ran.push('onRead'));
      hub.callback(() => ran.push('callback'));
      hub.timer(0).start(() => ran.push('timer'));
      hub.timer(1, 1).start(() => ran.push('repeating timer'));
      const signal = hub.signal('SIGWINCH');
      signal.start(() => ran.push('signal'));
      const listener = hub.listen({ host: '127.0.0.1', port: 0 });
      listener.start(
        () => ran.push('onConnection'),
        () => ran.push('listener onError'),
      );
      const udp = hub.udp({ host: '127.0.0.1', port: 0 });
      udp.recvStart(() => ran.push('onMessage'));
      const udpPort = udp.address.port;
      const listenerPort = listener.address.port;
      hub.close();
      const sender = dgram.createSocket('udp4');
      t().defer(() => sender.close());
      sender.send(Buffer.from('late'), udpPort, '127.0.0.1');
      socket.write('late');
      const late = net.connect(listenerPort, '127.0.0.1');
      late.on('error', () => undefined);
      t().defer(() => late.destroy());
      const delivered = deferred();
      const guard = (): void => delivered.resolve();
      process.on('SIGWINCH', guard);
      t().defer(() => process.off('SIGWINCH', guard));
      process.kill(process.pid, 'SIGWINCH');
      const settled = new Promise<void>((resolve) => late.once('close', () => resolve()));
      await within(2000, 'a connection to the closed listener to fail', settled);
      await within(2000, "Node's own SIGWINCH listener", delivered.promise);
      const sent = deferred();
      sender.send(Buffer.from('later'), udpPort, '127.0.0.1', () => sent.resolve());
      await within(2000, 'a second datagram to be sent', sent.promise);
      for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(ran).toEqual([]);
    });

    it('hub.close() closes its sockets: peers see the connection end and the port is free again', async () => {
      const { hub } = t();
      const peer = await nodeServer(t());
      const stream = await connect(t(), { host: '127.0.0.1', port: peer.port });
      const socket = await peer.sockets.next('the node:net server to accept');
      const { listener } = listen(t());
      const { port } = listener.address;
      const udp = hub.udp({ host: '127.0.0.1', port: 0 });
      const udpPort = udp.address.port;
      const ended = deferred();
      socket.on('close', () => ended.resolve());
      hub.close();
      expect(stream.closed).toBe(true);
      await within(2000, 'the peer to see the connection close', ended.promise);
      const refused = net.connect(port, '127.0.0.1');
      const refusedErr = deferred<unknown>();
      refused.on('error', (err) => refusedErr.resolve(err));
      refused.on('connect', () => refusedErr.resolve(new Error('connected to a closed hub listener')));
      t().defer(() => refused.destroy());
      expect(codeOf(await within(2000, 'a connection to the old port', refusedErr.promise))).toBe(
        'ECONNREFUSED',
      );
      const rebind = dgram.createSocket('udp4');
      t().defer(() => rebind.close());
      const bound = deferred();
      rebind.once('error', bound.reject);
      rebind.bind(udpPort, '127.0.0.1', () => bound.resolve());
      await within(2000, 'binding the datagram port again', bound.promise);
    });

    it('after hub.close() every hub method throws ERR_HUB_CLOSED', () => {
      const { hub } = t();
      hub.close();
      for (const [name, call] of METHODS)
        expectThrowsCode(() => call(hub), 'ERR_HUB_CLOSED', `hub.${name} after close()`);
    });

    it('objects of a closed hub refuse new work with ERR_HUB_CLOSED, and closing them is harmless', async () => {
      const { hub } = t();
      const timer = hub.timer(10);
      const signal = hub.signal('SIGWINCH');
      const { client } = await hubPair(t());
      const listener = hub.listen({ host: '127.0.0.1', port: 0 });
      const udp = hub.udp({ host: '127.0.0.1', port: 0 });
      hub.close();
      expect(timer.active).toBe(false);
      expect(client.closed).toBe(true);
      expectThrowsCode(() => timer.start(() => undefined), 'ERR_HUB_CLOSED', 'timer.start()');
      expectThrowsCode(() => signal.start(() => undefined), 'ERR_HUB_CLOSED', 'signal.start()');
      expectThrowsCode(() => client.write(Buffer.from('x')), 'ERR_HUB_CLOSED', 'stream.write()');
      expectThrowsCode(
        () =>
          listener.start(
            () => undefined,
            () => undefined,
          ),
        'ERR_HUB_CLOSED',
        'listener.start()',
      );
      expectThrowsCode(() => udp.recvStart(() => undefined), 'ERR_HUB_CLOSED', 'udp.recvStart()');
      for (const o of [timer, signal, client, listener, udp]) o.close();
    });

    it('hub.close() twice is harmless', () => {
      const { hub } = t();
      hub.timer(5).start(() => undefined);
      hub.close();
      hub.close();
    });
  });
}
