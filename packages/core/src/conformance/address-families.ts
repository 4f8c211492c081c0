import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ListenOptions } from '../hub/index.js';
import { expectThrowsCode, type HubTest, type Suite, useHub } from './internal/harness.js';
import {
  connect,
  hasIPv6Loopback,
  hubPair,
  listen,
  nodeCollect,
  nodeConnect,
  nodeServer,
  Reader,
} from './internal/streams.js';

/** A fresh directory for unix socket paths, removed after the test. */
function socketPath(t: HubTest, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'greenhub-conformance-'));
  t.defer(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, name);
}

/** Streams over unix sockets and over IPv6 (skipped when the machine has no ::1). */
export function addressFamilies(suite: Suite): void {
  describe('streams over unix sockets and IPv6', () => {
    const t = useHub(suite);

    describe('unix sockets', () => {
      it('a unix-socket listener reports its path with port 0, and streams echo over it', async () => {
        const path = socketPath(t(), 'echo.sock');
        const opts: ListenOptions = { path };
        const { client, server, listener } = await hubPair(t(), opts);
        expect(listener.address).toEqual({ address: path, port: 0, family: 'unix' });
        expect(client.remoteAddress).toMatchObject({ address: path, port: 0, family: 'unix' });
        expect(server.localAddress).toMatchObject({ address: path, port: 0, family: 'unix' });
        const reader = new Reader(client);
        const serverReader = new Reader(server);
        client.write(Buffer.from('over unix'));
        const got = await serverReader.waitBytes(9, 'bytes at the server');
        server.write(got);
        expect((await reader.waitBytes(9, 'the echo')).toString()).toBe('over unix');
      });

      it('a unix-socket listener accepts a node:net client, and connect() reaches a node:net unix server', async () => {
        const hubPath = socketPath(t(), 'hub.sock');
        const { accepted } = listen(t(), { path: hubPath });
        const socket = await nodeConnect(t(), { path: hubPath });
        socket.write('from node');
        const reader = new Reader(await accepted.next('the accepted stream'));
        expect((await reader.waitBytes(9, 'bytes')).toString()).toBe('from node');
        const nodePath = socketPath(t(), 'node.sock');
        const peer = await nodeServer(t(), { path: nodePath });
        const stream = await connect(t(), { path: nodePath });
        const fromHub = nodeCollect(await peer.sockets.next('the node:net server to accept'));
        stream.write(Buffer.from('from hub'));
        expect((await fromHub.waitBytes(8, 'bytes')).toString()).toBe('from hub');
      });

      it('connect() to a missing unix path calls back with ENOENT', async () => {
        const path = socketPath(t(), 'missing.sock');
        await expect(connect(t(), { path })).rejects.toMatchObject({ code: 'ENOENT' });
      });

      it('listen() on a unix path in use throws EADDRINUSE at once', () => {
        const path = socketPath(t(), 'busy.sock');
        listen(t(), { path });
        expectThrowsCode(() => t().hub.listen({ path }), 'EADDRINUSE', 'listen() on a path in use');
      });
    });

    describe('IPv6', () => {
      it.skipIf(!hasIPv6Loopback())(
        'a listener on ::1 accepts a connection, and addresses report IPv6',
        async () => {
          const { client, server, listener } = await hubPair(t(), { host: '::1', port: 0 });
          expect(listener.address).toEqual({ address: '::1', port: expect.any(Number), family: 'IPv6' });
          expect(client.remoteAddress).toEqual({
            address: '::1',
            port: listener.address.port,
            family: 'IPv6',
          });
          expect(server.remoteAddress).toEqual({
            address: '::1',
            port: client.localAddress.port,
            family: 'IPv6',
          });
          const reader = new Reader(server);
          client.write(Buffer.from('six'));
          expect((await reader.waitBytes(3, 'bytes over IPv6')).toString()).toBe('six');
          const peer = await nodeServer(t(), { host: '::1' });
          const stream = await connect(t(), { host: '::1', port: peer.port });
          expect(stream.remoteAddress.family).toBe('IPv6');
        },
      );
    });
  });
}
