import { describe, expect, it } from 'vitest';
import type { Stream } from '../hub/index.js';
import { type Suite, useHub } from './internal/harness.js';
import {
  connect,
  hubPair,
  listen,
  nodeCollect,
  nodeConnect,
  nodeServer,
  pattern,
  Reader,
  sha256,
  writeAll,
} from './internal/streams.js';
import { until } from './internal/wait.js';

const MIB = 1024 * 1024;
const CONNECTIONS = 1000;

/** Volume: data integrity over a megabyte, and a thousand connections at once. */
export function load(suite: Suite): void {
  describe('load and integrity', () => {
    const t = useHub(suite);

    it('1 MiB sent from the hub to a node:net peer arrives byte for byte', async () => {
      const peer = await nodeServer(t());
      const stream = await connect(t(), { host: '127.0.0.1', port: peer.port });
      const received = nodeCollect(await peer.sockets.next('the node:net server to accept'));
      const data = pattern(MIB, 31);
      expect(await writeAll(stream, data, 7919)).toBeNull();
      stream.shutdown();
      const got = await received.waitEnd('the whole MiB and end of stream', 5000);
      expect(got.length).toBe(data.length);
      expect(sha256(got)).toBe(sha256(data));
      stream.close();
    });

    it('1 MiB sent from a node:net peer to the hub arrives byte for byte', async () => {
      const { listener, accepted } = listen(t());
      const socket = await nodeConnect(t(), { port: listener.address.port });
      const data = pattern(MIB, 32);
      for (let offset = 0; offset < data.length; offset += 10_007)
        socket.write(data.subarray(offset, offset + 10_007));
      socket.end();
      const reader = new Reader(await accepted.next('the accepted stream'));
      const got = await reader.waitEnd('the whole MiB and end of stream', 5000);
      expect(got.length).toBe(data.length);
      expect(sha256(got)).toBe(sha256(data));
    });

    it('1 MiB each way between two hub streams at once arrives byte for byte', async () => {
      const { client, server } = await hubPair(t());
      const toServer = pattern(MIB, 33);
      const toClient = pattern(MIB, 34);
      const atServer = new Reader(server);
      const atClient = new Reader(client);
      const [a, b] = await Promise.all([
        writeAll(client, toServer, 65_521),
        writeAll(server, toClient, 4093),
      ]);
      expect([a, b]).toEqual([null, null]);
      client.shutdown();
      server.shutdown();
      const [gotServer, gotClient] = await Promise.all([
        atServer.waitEnd('the MiB at the server', 5000),
        atClient.waitEnd('the MiB at the client', 5000),
      ]);
      expect(sha256(gotServer)).toBe(sha256(toServer));
      expect(sha256(gotClient)).toBe(sha256(toClient));
    });

    it(`${CONNECTIONS} concurrent connections each get their own echo, and all close cleanly`, async () => {
      const { hub } = t();
      const listener = hub.listen({ host: '127.0.0.1', port: 0, backlog: 2048 });
      t().defer(() => listener.close());
      const serverSide = new Set<Stream>();
      listener.start(
        (stream) => {
          serverSide.add(stream);
          stream.readStart((chunk) => {
            if (chunk) stream.write(chunk);
            else {
              stream.close();
              serverSide.delete(stream);
            }
          });
        },
        (err) => {
          throw err;
        },
      );
      const echoed = new Map<number, string>();
      const failures: string[] = [];
      const clients: Stream[] = [];
      for (let i = 0; i < CONNECTIONS; i++) {
        hub.connect({ host: '127.0.0.1', port: listener.address.port }, (err, stream) => {
          if (err || !stream) {
            failures.push(`connection ${i}: ${String(err)}`);
            return;
          }
          clients.push(stream);
          let text = '';
          stream.readStart((chunk, readErr) => {
            if (chunk) text += Buffer.from(chunk).toString();
            else if (readErr) failures.push(`connection ${i}: ${String(readErr)}`);
            if (text === `hello ${i}`) {
              echoed.set(i, text);
              stream.close();
            }
          });
          stream.write(Buffer.from(`hello ${i}`));
        });
      }
      await until(
        () => echoed.size + failures.length === CONNECTIONS && serverSide.size === 0,
        `${CONNECTIONS} echoes`,
        15_000,
        () => `${echoed.size} echoed, ${failures.length} failed, ${serverSide.size} server streams open`,
      );
      expect(failures).toEqual([]);
      expect(echoed.size).toBe(CONNECTIONS);
      expect(clients.every((c) => c.closed)).toBe(true);
      listener.close();
      expect(hub.stats()).toEqual({ active: 0, referenced: 0, open: 0 });
    }, 20_000);
  });
}
