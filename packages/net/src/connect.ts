import { performance } from 'node:perf_hooks';
import { type ConnectOptions, getHub, type Stream, Timeout, Waiter } from '@greenhub/core';
import { literalHost, lookupHost } from './internal/socket-host.js';
import { Socket } from './socket.js';
import { connectTls, type TlsOptions } from './tls.js';

/** Options of {@link connect}: TCP to `host` (default `'127.0.0.1'`) and `port`, or a unix `path`. */
export type SocketConnectOptions = (
  | { host?: string; port: number; timeout?: number; noDelay?: boolean; signal?: AbortSignal }
  | { path: string; timeout?: number; signal?: AbortSignal }
) & {
  /** Speak TLS over the connection (`true` = Node's defaults); see `connectTls()`. */
  tls?: true | TlsOptions;
  /** With `tls`: the name sent as SNI and checked against the certificate (default `host`). */
  servername?: string;
};

/**
 * Open a TCP or unix stream connection, waiting cooperatively.
 *
 * `host` may be an IP literal, `'localhost'` (taken as `127.0.0.1`) or a name,
 * resolved with the system resolver (getaddrinfo) to its first address.
 *
 * @param opts where to connect; `timeout` (ms) covers name resolution and the
 *   handshake; `signal` aborts both (rejecting with its reason).
 * @returns the connected socket.
 * @throws the hub's error (`ECONNREFUSED`, `ENOENT` for a missing unix path,
 *   `ENOTFOUND` for an unknown name); `Timeout` (`code: 'ETIMEDOUT'`) when `timeout` runs out.
 * @example
 * const sock = await connect({ host: '127.0.0.1', port: 8080, timeout: 5000 });
 */
export async function connect(opts: SocketConnectOptions): Promise<Socket> {
  if (opts.tls) return connectTls(opts);
  const timeout = opts.timeout;
  const start = performance.now();
  const remaining = (): number | undefined =>
    timeout === undefined ? undefined : Math.max(0, timeout - (performance.now() - start));
  let target: ConnectOptions;
  if ('path' in opts) {
    target = { path: opts.path };
  } else {
    const host = opts.host ?? '127.0.0.1';
    target = {
      host: literalHost(host) ?? (await lookupHost(host, remaining(), opts.signal)),
      port: opts.port,
    };
  }
  // An expired timeout (0, or used up by name resolution) never starts the handshake, like a non-blocking connect.
  if (remaining() === 0) throw new Timeout(timeout);
  if (opts.signal?.aborted) throw opts.signal.reason;
  const hub = getHub();
  const waiter = new Waiter<Stream>('connect');
  const handle = hub.connect(target, (err, stream) => {
    if (err || !stream) {
      waiter.throw(err ?? new Error('connect failed'));
    } else if (!waiter.switch(stream)) {
      stream.close(); // the wait ended first (timeout, kill): nobody wants it
    }
  });
  let stream: Stream;
  try {
    stream = await waiter.get({ timeout: remaining(), signal: opts.signal });
  } catch (err) {
    handle.cancel();
    throw err;
  }
  const socket = new Socket(stream);
  if (!('path' in opts) && opts.noDelay !== undefined) socket.setNoDelay(opts.noDelay);
  return socket;
}
