import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import type { Datagram, SocketAddress, UdpOptions } from '../hub/index.js';
import { codeOf, type HubTest, type Suite, useHub } from './internal/harness.js';
import { hasIPv6Loopback } from './internal/streams.js';
import { deferred, Inbox, turns, until, within } from './internal/wait.js';

interface Received {
  text: string;
  from: SocketAddress;
}

function udp(t: HubTest, opts: UdpOptions = { host: '127.0.0.1', port: 0 }): Datagram {
  const socket = t.hub.udp(opts);
  t.defer(() => socket.close());
  return socket;
}

function receive(socket: Datagram): Inbox<Received> {
  const inbox = new Inbox<Received>();
  socket.recvStart((data, from) => inbox.push({ text: Buffer.from(data).toString(), from }));
  return inbox;
}

function send(socket: Datagram, text: string, to: SocketAddress): Promise<Error | null> {
  const done = deferred<Error | null>();
  socket.send(Buffer.from(text), to, (err) => done.resolve(err));
  return within(2000, 'the send callback', done.promise);
}

async function nodeDgram(
  t: HubTest,
): Promise<{ socket: dgram.Socket; inbox: Inbox<Received>; port: number }> {
  const socket = dgram.createSocket('udp4');
  t.defer(() => socket.close());
  const inbox = new Inbox<Received>();
  socket.on('message', (data, rinfo) =>
    inbox.push({
      text: data.toString(),
      from: { address: rinfo.address, port: rinfo.port, family: rinfo.family as 'IPv4' },
    }),
  );
  const bound = deferred();
  socket.once('error', bound.reject);
  socket.bind(0, '127.0.0.1', () => bound.resolve());
  await within(2000, 'a node:dgram socket to bind', bound.promise);
  return { socket, inbox, port: socket.address().port };
}

/** UDP: binding, both directions, node:dgram peers, recvStop(). */
export function datagrams(suite: Suite): void {
  describe('udp', () => {
    const t = useHub(suite);

    it('udp() binds synchronously: the address and port are known at once', () => {
      const socket = udp(t());
      expect(socket.address).toEqual({ address: '127.0.0.1', port: expect.any(Number), family: 'IPv4' });
      expect(socket.address.port).toBeGreaterThan(0);
      socket.close();
    });

    it('two hub datagram sockets exchange datagrams both ways, and each sees the other as the sender', async () => {
      const a = udp(t());
      const b = udp(t());
      const atA = receive(a);
      const atB = receive(b);
      expect(await send(a, 'a to b', b.address)).toBeNull();
      expect(await atB.next('the datagram at b')).toEqual({ text: 'a to b', from: a.address });
      expect(await send(b, 'b to a', a.address)).toBeNull();
      expect(await atA.next('the datagram at a')).toEqual({ text: 'b to a', from: b.address });
    });

    it('a hub datagram socket and a node:dgram socket exchange datagrams both ways', async () => {
      const hubSocket = udp(t());
      const atHub = receive(hubSocket);
      const peer = await nodeDgram(t());
      peer.socket.send('from node', hubSocket.address.port, '127.0.0.1');
      expect(await atHub.next('the datagram from node')).toEqual({
        text: 'from node',
        from: { address: '127.0.0.1', port: peer.port, family: 'IPv4' },
      });
      expect(
        await send(hubSocket, 'from hub', { address: '127.0.0.1', port: peer.port, family: 'IPv4' }),
      ).toBeNull();
      expect(await peer.inbox.next('the datagram from the hub')).toEqual({
        text: 'from hub',
        from: hubSocket.address,
      });
    });

    it('datagram boundaries are kept: each send arrives as one message', async () => {
      const a = udp(t());
      const b = udp(t());
      const atB = receive(b);
      const texts = ['one', 'two two', '', 'x'.repeat(8000)];
      for (const text of texts) a.send(Buffer.from(text), b.address);
      const got: string[] = [];
      for (let i = 0; i < texts.length; i++) got.push((await atB.next(`datagram ${i}`)).text);
      expect(got).toEqual(texts);
    });

    it('the bytes passed to onMessage belong to the callee: later datagrams never overwrite them', async () => {
      const a = udp(t());
      const b = udp(t());
      const kept: Uint8Array[] = [];
      b.recvStart((data) => kept.push(data));
      const sent = Array.from({ length: 20 }, (_, i) => Buffer.alloc(500 + i, i + 1));
      for (const data of sent) a.send(data, b.address);
      await until(
        () => kept.length === sent.length,
        'every datagram',
        2000,
        () => `${kept.length} received`,
      );
      expect(kept.map((d) => Buffer.from(d).toString('hex'))).toEqual(sent.map((d) => d.toString('hex')));
    });

    it('a send callback runs once, from a later turn', async () => {
      const a = udp(t());
      const calls: string[] = [];
      let returned = false;
      const done = deferred();
      a.send(Buffer.from('self'), a.address, (err) => {
        calls.push(`${String(err)}${returned ? '' : ' (inside send())'}`);
        done.resolve();
      });
      returned = true;
      await within(2000, 'the send callback', done.promise);
      await turns(t().hub);
      expect(calls).toEqual(['null']);
    });

    it('recvStop() stops delivery; recvStart() again delivers what the kernel kept', async () => {
      const a = udp(t());
      const witness = udp(t());
      const atA = receive(a);
      const atWitness = receive(witness);
      const peer = await nodeDgram(t());
      a.recvStop();
      peer.socket.send('while stopped', a.address.port, '127.0.0.1');
      peer.socket.send('witness', witness.address.port, '127.0.0.1');
      await atWitness.next('a datagram sent after the one to the stopped socket');
      await turns(t().hub);
      expect(atA.count, 'datagrams delivered after recvStop()').toBe(0);
      a.recvStart((data, from) => atA.push({ text: Buffer.from(data).toString(), from }));
      expect((await atA.next('the kept datagram after recvStart()')).text).toBe('while stopped');
    });

    it('recvStop() inside onMessage holds back the datagrams already read with it, in order, until recvStart()', async () => {
      const a = udp(t());
      const b = udp(t());
      const got: string[] = [];
      const onMessage = (data: Uint8Array): void => {
        got.push(Buffer.from(data).toString());
        if (got.length === 1) b.recvStop();
      };
      // All sent before b receives: a hub may read them in one wakeup and hand them over together
      // (hub-libev does), and the ones after the stopping callback must wait.
      const sent = Array.from({ length: 10 }, (_, i) => `d${i}`);
      for (const text of sent) expect(await send(a, text, b.address)).toBeNull();
      b.recvStart(onMessage);
      await until(() => got.length > 0, 'the first datagram', 2000);
      await turns(t().hub, 5);
      expect(got, 'datagrams delivered after recvStop()').toEqual(['d0']);
      b.recvStart(onMessage);
      await until(
        () => got.length === sent.length,
        'the held datagrams after recvStart()',
        2000,
        () => `${got.length} received: ${got.join(',')}`,
      );
      expect(got).toEqual(sent);
    });

    it('a receiving datagram socket is active and referenced; unref() and recvStop() take it out', () => {
      const { hub } = t();
      const a = udp(t());
      expect(hub.stats()).toEqual({ active: 0, referenced: 0, open: 1 });
      a.recvStart(() => undefined);
      expect(hub.stats()).toEqual({ active: 1, referenced: 1, open: 1 });
      a.unref();
      expect(hub.stats()).toEqual({ active: 1, referenced: 0, open: 1 });
      a.ref();
      a.recvStop();
      expect(hub.stats()).toEqual({ active: 0, referenced: 0, open: 1 });
      a.close();
      expect(hub.stats()).toEqual({ active: 0, referenced: 0, open: 0 });
    });

    it('a send to a port nobody listens on does not crash, and the socket keeps working', async () => {
      const a = udp(t());
      const b = udp(t());
      const atA = receive(a);
      const nobody = udp(t());
      const deadPort = nobody.address.port;
      nobody.close();
      for (let i = 0; i < 3; i++) {
        const err = await send(a, 'into the void', { address: '127.0.0.1', port: deadPort, family: 'IPv4' });
        if (err) expect(codeOf(err)).toEqual(expect.any(String));
      }
      await turns(t().hub);
      expect(await send(b, 'still here', a.address)).toBeNull();
      expect((await atA.next('a datagram after the failed sends')).text).toBe('still here');
      t().takeErrors();
    });

    it('a send to a host that is not a numeric address fails with ERR_INVALID_IP_ADDRESS', async () => {
      const a = udp(t());
      const to: SocketAddress = { address: 'localhost', port: 9, family: 'IPv4' };
      let err: unknown;
      try {
        err = await send(a, 'x', to);
      } catch (thrown) {
        err = thrown;
      }
      expect(codeOf(err)).toBe('ERR_INVALID_IP_ADDRESS');
    });

    it.skipIf(!hasIPv6Loopback())('udp() on ::1 binds an IPv6 socket that exchanges datagrams', async () => {
      const a = udp(t(), { host: '::1', port: 0 });
      const b = udp(t(), { host: '::1', port: 0 });
      expect(a.address.family).toBe('IPv6');
      const atB = receive(b);
      expect(await send(a, 'six', b.address)).toBeNull();
      expect(await atB.next('the IPv6 datagram')).toEqual({ text: 'six', from: a.address });
    });
  });
}
