import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { spawn, Timeout, Waiter } from '@greenhub/core';
import { connect, type SocketConnectOptions } from './connect.js';
import { DuplexStream } from './internal/duplex-stream.js';
import { Socket } from './socket.js';

/**
 * TLS settings for {@link startTls}, {@link connectTls} and {@link acceptTls}:
 * Node's `tls` options (`key`, `cert`, `ca`, `rejectUnauthorized`,
 * `ALPNProtocols`, `minVersion`, `checkServerIdentity`, `requestCert`...),
 * without the transport ones (`socket`, `host`, `port`, `path`), which the
 * greenhub socket provides.
 */
export type TlsOptions = Omit<
  tls.ConnectionOptions,
  'socket' | 'host' | 'port' | 'path' | 'timeout' | 'lookup' | 'allowHalfOpen' | 'signal' | 'onread'
>;

/** Options of {@link startTls}: TLS settings plus which side this is and how long the handshake may take. */
export type StartTlsOptions = TlsOptions & {
  /** Act as the TLS server (needs `key` and `cert`, or `secureContext`); default: client. */
  isServer?: boolean;
  /** Client: the name sent as SNI and checked against the certificate (default: the peer's IP address, checked, no SNI). */
  servername?: string;
  /** ms for the whole handshake → `Timeout` (`ETIMEDOUT`). */
  timeout?: number;
  /** Aborts the handshake (rejecting with its reason). */
  signal?: AbortSignal;
};

/** Options of {@link connectTls}: those of `connect()` plus the TLS settings (`true` = Node's defaults). */
export type TlsConnectOptions = SocketConnectOptions & {
  /** TLS settings; `true` (or omitted) = Node's defaults: the system CAs, certificate and name checked. */
  tls?: true | TlsOptions;
  /** Client: SNI and name checked (default: `host` unless it is an IP literal, then the IP is checked). */
  servername?: string;
};

/** Encrypted bytes the transport takes before it holds back the TLS layer (backpressure). */
const TRANSPORT_HIGH_WATER_MARK = 64 * 1024;

/**
 * A Node `Duplex` over a greenhub socket whose reads and writes run in two
 * greenlets of their own, so that a kill or `Timeout` aimed at whoever uses
 * the TLS socket never interrupts the transport underneath. Writes are taken
 * at once up to a high-water mark, so that destroying the Duplex (closing the
 * TLS socket) can still hand every byte already encrypted to the socket before
 * closing it, as closing a TCP socket sends what was written. Destroying the
 * Duplex closes the socket; closing the socket ends both greenlets.
 */
function transportOf(raw: Socket): Duplex {
  let closed = false;
  let wanted = false;
  let readWake: Waiter<void> | undefined;
  let writeWake: Waiter<void> | undefined;
  const pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let ending: ((err?: Error | null) => void) | undefined;
  let held: (() => void) | undefined;
  const wakeAll = (): void => {
    readWake?.switch();
    writeWake?.switch();
  };
  const take = (chunk: Uint8Array, cb: (err?: Error | null) => void): void => {
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes <= TRANSPORT_HIGH_WATER_MARK) cb();
    else held = () => cb();
    writeWake?.switch();
  };
  const takeAll = (): Uint8Array | undefined => {
    if (pending.length === 0) return undefined;
    const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
    pending.length = 0;
    pendingBytes = 0;
    return all;
  };
  const duplex = new Duplex({
    read: () => {
      wanted = true;
      readWake?.switch();
    },
    write: (chunk: Uint8Array, _encoding, cb) => take(chunk, cb),
    writev: (chunks, cb) => {
      for (let i = 0; i < chunks.length - 1; i++) take(chunks[i]!.chunk as Uint8Array, () => {});
      take(chunks[chunks.length - 1]!.chunk as Uint8Array, cb);
    },
    final: (cb) => {
      ending = cb;
      writeWake?.switch();
    },
    destroy: (err, cb) => {
      if (!closed) {
        closed = true;
        // Hand what was already encrypted to the socket (taken at once unless a write is waiting to drain).
        const rest = takeAll();
        if (rest) raw.write(rest).catch(() => {});
        raw.close();
        wakeAll();
      }
      cb(err);
    },
  });
  void raw.closed.then(() => {
    closed = true;
    wakeAll();
  });
  const fail = (err: unknown): void => {
    if (!closed) duplex.destroy(err instanceof Error ? err : new Error(String(err)));
  };
  const reader = spawn(async () => {
    try {
      while (!closed) {
        if (!wanted) {
          readWake = new Waiter<void>('tls transport read');
          await readWake.get();
          readWake = undefined;
          continue;
        }
        wanted = false;
        const chunk = await raw.read();
        if (closed) return;
        duplex.push(chunk);
        if (chunk === null) return;
      }
    } catch (err) {
      fail(err);
    }
  });
  reader.name = 'tls transport read';
  const writer = spawn(async () => {
    try {
      while (!closed) {
        const chunk = takeAll();
        if (chunk) {
          await raw.write(chunk);
          const release = held;
          held = undefined;
          release?.();
          continue;
        }
        if (ending) {
          const done = ending;
          ending = undefined;
          await raw.end();
          done();
          return;
        }
        writeWake = new Waiter<void>('tls transport write');
        await writeWake.get();
        writeWake = undefined;
      }
    } catch (err) {
      const done = ending;
      ending = undefined;
      done?.(err instanceof Error ? err : new Error(String(err)));
      fail(err);
    }
  });
  writer.name = 'tls transport write';
  return duplex;
}

function handshakeDone(tlsSocket: tls.TLSSocket, isServer: boolean): Waiter<void> {
  const waiter = new Waiter<void>('tls handshake');
  const onSecure = (): void => {
    cleanup();
    waiter.switch();
  };
  const onError = (err: Error): void => {
    cleanup();
    waiter.throw(err);
  };
  const onClose = (): void => {
    cleanup();
    waiter.throw(
      Object.assign(
        new Error('Client network socket disconnected before secure TLS connection was established'),
        {
          code: 'ECONNRESET',
        },
      ),
    );
  };
  const event = isServer ? 'secure' : 'secureConnect';
  const cleanup = (): void => {
    tlsSocket.off(event, onSecure);
    tlsSocket.off('error', onError);
    tlsSocket.off('close', onClose);
  };
  tlsSocket.once(event, onSecure);
  tlsSocket.once('error', onError);
  tlsSocket.once('close', onClose);
  return waiter;
}

/**
 * Upgrade a connected greenhub socket to TLS and wait (kind `'tls handshake'`)
 * for the handshake. The certificate is verified per Node's defaults
 * (`rejectUnauthorized` is true unless set). `kill()`, a `Timeout`,
 * `timeout` and `signal` interrupt the handshake and close both sockets.
 *
 * @param socket a connected socket; owned from now on (closing the TLS socket
 *   closes it). Bytes it received but nobody read yet (after a STARTTLS
 *   exchange, say) go to TLS first.
 * @param opts TLS settings; `isServer` for the server side (`key`/`cert`);
 *   `servername` for SNI and the name check.
 * @returns a new `Socket` speaking TLS, with the full Socket API; its
 *   addresses are those of `socket`.
 * @throws Node's TLS errors with their codes (`DEPTH_ZERO_SELF_SIGNED_CERT`,
 *   `ERR_TLS_CERT_ALTNAME_INVALID`, `ERR_SSL_...`); `ECONNRESET` if the peer
 *   leaves during the handshake; `Timeout` (`ETIMEDOUT`) when `timeout` runs out.
 * @example
 * const raw = await connect({ host: 'example.com', port: 443 });
 * await using sock = await startTls(raw, { servername: 'example.com' });
 */
export async function startTls(socket: Socket, opts: StartTlsOptions = {}): Promise<Socket> {
  const { isServer = false, servername, timeout, signal, ...tlsOpts } = opts;
  if (signal?.aborted) {
    socket.close();
    throw signal.reason;
  }
  const transport = transportOf(socket);
  let tlsSocket: tls.TLSSocket;
  try {
    if (isServer) {
      tlsSocket = new tls.TLSSocket(transport, {
        ...tlsOpts,
        isServer: true,
        // Like tls.createServer: a client certificate asked for is verified unless told otherwise.
        rejectUnauthorized: tlsOpts.rejectUnauthorized ?? true,
      });
    } else {
      const peer = socket.remoteAddress.address;
      const name = servername ?? peer;
      tlsSocket = tls.connect({
        ...tlsOpts,
        socket: transport,
        host: name || 'localhost',
        servername: name && isIP(name) === 0 ? name : undefined,
      });
    }
  } catch (err) {
    transport.destroy();
    socket.close();
    throw err;
  }
  // Installed before the handshake so that nothing emitted in between is lost or uncaught.
  const stream = new DuplexStream(tlsSocket, {
    localAddress: socket.localAddress,
    remoteAddress: socket.remoteAddress,
    setNoDelay: (on) => socket.setNoDelay(on),
    setKeepAlive: (on, delayMs) => socket.setKeepAlive(on, delayMs),
    onClose: () => {
      transport.destroy();
      socket.close();
    },
  });
  try {
    await handshakeDone(tlsSocket, isServer).get({ timeout, signal });
    // Server side: with requestCert and rejectUnauthorized, OpenSSL itself fails a handshake whose
    // client certificate is missing or does not verify, so a completed one is verified.
    if (isServer && tlsOpts.requestCert && tlsOpts.rejectUnauthorized !== false)
      verifiedClients.add(tlsSocket);
  } catch (err) {
    stream.close();
    throw err;
  }
  const secure = new Socket(stream);
  sessions.set(secure, tlsSocket);
  return secure;
}

/** What was negotiated on a TLS socket; see {@link tlsInfo}. */
export interface TlsInfo {
  /** `'TLSv1.3'`, `'TLSv1.2'`... */
  protocol: string | null;
  /** The cipher suite in use. */
  cipher: tls.CipherNameAndProtocol;
  /** The ALPN protocol agreed on, or `false`. */
  alpnProtocol: string | false | null;
  /** Whether the peer's certificate was verified (client side; server side with `requestCert`). */
  authorized: boolean;
  /** Why it was not, as Node's code (`'DEPTH_ZERO_SELF_SIGNED_CERT'`...), if it was not. */
  authorizationError: Error | undefined;
  /** The peer's certificate (`{}` if it sent none). */
  peerCertificate: tls.PeerCertificate;
  /** The SNI name the client asked for (server side), or `false`. */
  servername: string | false;
}

const sessions = new WeakMap<Socket, tls.TLSSocket>();
/** Server side TLS sockets whose client certificate OpenSSL verified (Node sets `authorized` only under `tls.Server`). */
const verifiedClients = new WeakSet<tls.TLSSocket>();

/**
 * What was negotiated on a socket returned by {@link startTls},
 * {@link connectTls} or {@link acceptTls}.
 *
 * @param socket any socket.
 * @returns the session's details, or `undefined` for a socket that is not TLS.
 * @example
 * if (tlsInfo(sock)?.alpnProtocol === 'h2') serveHttp2(sock);
 */
export function tlsInfo(socket: Socket): TlsInfo | undefined {
  const tlsSocket = sessions.get(socket);
  if (!tlsSocket) return undefined;
  const named = tlsSocket as tls.TLSSocket & { servername?: string | false };
  return {
    protocol: tlsSocket.getProtocol(),
    cipher: tlsSocket.getCipher(),
    alpnProtocol: tlsSocket.alpnProtocol,
    authorized: tlsSocket.authorized || verifiedClients.has(tlsSocket),
    authorizationError: tlsSocket.authorizationError,
    peerCertificate: tlsSocket.getPeerCertificate(),
    servername: named.servername ?? false,
  };
}

/**
 * Connect and start TLS as a client, with `timeout` (and `signal`) covering
 * the TCP connect and the handshake together.
 *
 * @param opts those of `connect()` plus `tls` (Node's TLS options, or `true`
 *   for the defaults) and `servername` (default: `host` if it is a name).
 * @returns a connected TLS socket.
 * @throws as `connect()` and {@link startTls}.
 * @example
 * await using sock = await connectTls({ host: 'localhost', port: 8443, tls: { ca }, timeout: 5000 });
 */
export async function connectTls(opts: TlsConnectOptions): Promise<Socket> {
  const { tls: tlsSettings, servername, ...plain } = opts;
  const start = performance.now();
  const raw = await connect(plain as SocketConnectOptions);
  let remaining: number | undefined;
  if (opts.timeout !== undefined) {
    remaining = Math.max(0, opts.timeout - (performance.now() - start));
    if (remaining === 0) {
      raw.close();
      throw new Timeout(opts.timeout);
    }
  }
  const host = 'path' in opts ? undefined : (opts.host ?? '127.0.0.1');
  return startTls(raw, {
    ...(tlsSettings === true || tlsSettings === undefined ? {} : tlsSettings),
    servername: servername ?? host ?? 'localhost',
    timeout: remaining,
    signal: opts.signal,
  });
}

/**
 * The server side of TLS on an accepted socket (for `StreamServer`'s `tls`
 * option): {@link startTls} with `isServer: true`.
 *
 * @param socket an accepted socket, nothing read from it yet; owned from now on.
 * @param opts `key` and `cert` (or `secureContext`), optionally `requestCert`,
 *   `ca`, `ALPNProtocols`, `SNICallback`, `timeout`, `signal`.
 * @returns the TLS socket once the handshake completed.
 * @throws as {@link startTls}.
 * @example
 * const sock = await acceptTls(await listener.accept(), { key, cert, timeout: 10_000 });
 */
export function acceptTls(
  socket: Socket,
  opts: TlsOptions & { timeout?: number; signal?: AbortSignal },
): Promise<Socket> {
  return startTls(socket, { ...opts, isServer: true });
}
