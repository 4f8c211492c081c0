import { createHash } from 'node:crypto';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import type { ConnectOptions, Listener, ListenOptions, Stream } from '../../hub/index.js';
import type { HubTest } from './harness.js';
import { deferred, Inbox, until, within } from './wait.js';

/** More than loopback's kernel buffers hold, so part of a write of this size stays queued while the peer does not read. */
export const MORE_THAN_KERNEL_BUFFERS = 32 * 1024 * 1024;

/** Reads a hub stream from `readStart` on, keeping every chunk it is handed. */
export class Reader {
  readonly chunks: Uint8Array[] = [];
  total = 0;
  ended = false;
  error: Error | undefined;
  /** onRead calls that came after end of stream or an error (the contract allows none). */
  callsAfterEnd = 0;

  constructor(
    readonly stream: Stream,
    start = true,
  ) {
    if (start) this.start();
  }

  start(): void {
    this.stream.readStart(this.onRead);
  }

  readonly onRead = (chunk: Uint8Array | null, err?: Error): void => {
    if (this.ended || this.error) {
      this.callsAfterEnd++;
      return;
    }
    if (chunk === null) {
      if (err) this.error = err;
      else this.ended = true;
      return;
    }
    this.chunks.push(chunk);
    this.total += chunk.byteLength;
  };

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  text(): string {
    return this.bytes().toString('utf8');
  }

  async waitBytes(count: number, what: string, ms = 2000): Promise<Buffer> {
    await until(
      () => this.total >= count || this.ended || this.error !== undefined,
      what,
      ms,
      () => `${this.total} of ${count} bytes`,
    );
    if (this.error) throw this.error;
    if (this.total < count) throw new Error(`end of stream after ${this.total} of ${count} bytes: ${what}`);
    return this.bytes();
  }

  async waitEnd(what: string, ms = 2000): Promise<Buffer> {
    await until(
      () => this.ended || this.error !== undefined,
      what,
      ms,
      () => `${this.total} bytes so far`,
    );
    if (this.error) throw this.error;
    return this.bytes();
  }

  async waitError(what: string, ms = 2000): Promise<Error> {
    await until(
      () => this.ended || this.error !== undefined,
      what,
      ms,
      () => `${this.total} bytes so far`,
    );
    if (!this.error) throw new Error(`end of stream without an error: ${what}`);
    return this.error;
  }
}

/** `stream.write` as a promise of its callback's error, bounded in time. */
export function write(
  stream: Stream,
  data: Uint8Array | readonly Uint8Array[],
  ms = 2000,
): Promise<Error | null> {
  const done = deferred<Error | null>();
  stream.write(data, (err) => done.resolve(err));
  return within(ms, 'a write callback', done.promise);
}

/** `hub.connect` as a promise; the stream is closed after the test. */
export function connect(t: HubTest, opts: ConnectOptions, ms = 2000): Promise<Stream> {
  const done = deferred<Stream>();
  t.hub.connect(opts, (err, stream) => {
    if (stream) t.defer(() => stream.close());
    if (err) done.reject(err);
    else if (stream) done.resolve(stream);
    else done.reject(new Error('connect called back with neither an error nor a stream'));
  });
  return within(ms, `connect to ${JSON.stringify(opts)}`, done.promise);
}

/** A started hub listener whose accepted streams queue up in `accepted`; all closed after the test. */
export function listen(
  t: HubTest,
  opts: ListenOptions = { host: '127.0.0.1', port: 0 },
): { listener: Listener; accepted: Inbox<Stream> } {
  const listener = t.hub.listen(opts);
  t.defer(() => listener.close());
  const accepted = new Inbox<Stream>();
  listener.start(
    (stream) => {
      t.defer(() => stream.close());
      accepted.push(stream);
    },
    (err) => {
      throw err;
    },
  );
  return { listener, accepted };
}

/** Two hub streams connected to each other over TCP on 127.0.0.1 (or the given listen options). */
export async function hubPair(
  t: HubTest,
  opts: ListenOptions = { host: '127.0.0.1', port: 0 },
): Promise<{ client: Stream; server: Stream; listener: Listener }> {
  const { listener, accepted } = listen(t, opts);
  const where: ConnectOptions =
    'path' in opts ? { path: opts.path } : { host: listener.address.address, port: listener.address.port };
  const [client, server] = await Promise.all([connect(t, where), accepted.next('the listener to accept')]);
  return { client, server, listener };
}

/** A node:net server on 127.0.0.1; accepted sockets queue up in `sockets`; everything destroyed after the test. */
export async function nodeServer(
  t: HubTest,
  opts: { host?: string; path?: string } = {},
): Promise<{ server: net.Server; port: number; sockets: Inbox<net.Socket> }> {
  const sockets = new Inbox<net.Socket>();
  const live = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    live.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => live.delete(socket));
    sockets.push(socket);
  });
  t.defer(async () => {
    for (const socket of live) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const ready = deferred();
  server.once('error', ready.reject);
  if (opts.path !== undefined) server.listen(opts.path, () => ready.resolve());
  else server.listen(0, opts.host ?? '127.0.0.1', () => ready.resolve());
  await within(2000, 'a node:net server to listen', ready.promise);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { server, port, sockets };
}

/** A node:net client connected to `where`; destroyed after the test. */
export async function nodeConnect(
  t: HubTest,
  where: { port: number; host?: string } | { path: string },
): Promise<net.Socket> {
  const socket =
    'path' in where ? net.connect(where.path) : net.connect(where.port, where.host ?? '127.0.0.1');
  t.defer(() => socket.destroy());
  const ready = deferred();
  socket.once('connect', () => ready.resolve());
  socket.once('error', ready.reject);
  await within(2000, 'a node:net client to connect', ready.promise);
  socket.on('error', () => undefined);
  return socket;
}

/** Everything a node:net socket receives, with waits. */
export function nodeCollect(socket: net.Socket): {
  bytes(): Buffer;
  waitBytes(count: number, what: string, ms?: number): Promise<Buffer>;
  waitEnd(what: string, ms?: number): Promise<Buffer>;
} {
  const chunks: Buffer[] = [];
  let total = 0;
  let ended = false;
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    total += chunk.length;
  });
  socket.on('end', () => {
    ended = true;
  });
  const bytes = (): Buffer => Buffer.concat(chunks);
  return {
    bytes,
    async waitBytes(count, what, ms = 2000) {
      await until(
        () => total >= count,
        what,
        ms,
        () => `${total} of ${count} bytes`,
      );
      return bytes();
    },
    async waitEnd(what, ms = 2000) {
      await until(
        () => ended,
        what,
        ms,
        () => `${total} bytes so far`,
      );
      return bytes();
    },
  };
}

/** `size` bytes that differ from any other offset's and any other `seed`'s, so a misplaced byte shows. */
export function pattern(size: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Write all of `data` in `chunkSize` pieces without waiting, resolving when every callback came back. */
export function writeAll(
  stream: Stream,
  data: Uint8Array,
  chunkSize = 64 * 1024,
  ms = 5000,
): Promise<Error | null> {
  const done = deferred<Error | null>();
  let pending = 0;
  let firstError: Error | null = null;
  for (let offset = 0; offset < data.byteLength; offset += chunkSize) {
    pending++;
    stream.write(data.subarray(offset, offset + chunkSize), (err) => {
      if (err && !firstError) firstError = err;
      if (--pending === 0) done.resolve(firstError);
    });
  }
  if (pending === 0) done.resolve(null);
  return within(ms, 'every write callback', done.promise);
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound by node:net, then released). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  const ready = deferred();
  server.once('error', ready.reject);
  server.listen(0, '127.0.0.1', () => ready.resolve());
  await within(2000, 'a node:net server to listen', ready.promise);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Whether this machine has an IPv6 loopback (::1) to test on. */
export function hasIPv6Loopback(): boolean {
  return Object.values(networkInterfaces()).some((list) =>
    (list ?? []).some((i) => i.family === 'IPv6' && i.address === '::1'),
  );
}
