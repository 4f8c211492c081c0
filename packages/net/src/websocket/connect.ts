// The client side: connectWebSocket(url) over greenhub's connect().

import { randomBytes } from 'node:crypto';
import { codedError, spawn, Timeout } from '@greenhub/core';
import { connect } from '../connect.js';
import type { Socket } from '../socket.js';
import type { TlsOptions } from '../tls.js';
import { acceptKey } from './frame.js';
import { WebSocket, type WebSocketOptions } from './websocket.js';

/** Options of {@link connectWebSocket}. */
export interface ConnectWebSocketOptions extends WebSocketOptions {
  /** Subprotocols to offer (`Sec-WebSocket-Protocol`); the server's choice is `ws.protocol`. */
  protocols?: readonly string[];
  /** Extra request headers (`authorization`, `origin`, `cookie`...). */
  headers?: ConstructorParameters<typeof Headers>[0];
  /** Ms for connecting and the whole handshake → `Timeout` (`ETIMEDOUT`). */
  timeout?: number;
  /** For `wss:`: TLS options of `connect({ tls })` (default: Node's, verifying the certificate). */
  tls?: true | TlsOptions;
  /** Aborts connecting and the handshake. */
  signal?: AbortSignal;
}

/** The server's answer was not a valid acceptance of the upgrade. */
function handshakeError(message: string, status?: number): Error & { code: string; status?: number } {
  return Object.assign(
    codedError(new Error(`WebSocket handshake failed: ${message}`), 'ERR_WEBSOCKET_HANDSHAKE'),
    {
      status,
    },
  );
}

/**
 * Open a WebSocket connection (RFC 6455) to a `ws:` or `wss:` URL. Its frames
 * are read by a greenlet of its own (`websocket <url>`), which ends with the
 * connection.
 *
 * @param url `ws://host[:port]/path?query` or `wss://...` (`http:`/`https:` are taken as `ws:`/`wss:`).
 * @param opts `protocols`, `headers`, `timeout` (connect + handshake), `tls`, `signal`, and the
 *   WebSocket's `maxMessageBytes`, `heartbeat`, `closeTimeout`.
 * @returns the open WebSocket.
 * @throws `ERR_INVALID_URL`; the connection's errors (`ECONNREFUSED`...);
 *   `ERR_WEBSOCKET_HANDSHAKE` (with `status`) when the server does not accept
 *   the upgrade properly; `Timeout` (`ETIMEDOUT`).
 * @example
 * await using ws = await connectWebSocket('ws://127.0.0.1:8080/echo', { timeout: 5000 });
 * await ws.send('hi');
 * console.log(await ws.receive());
 */
export async function connectWebSocket(
  url: string | URL,
  opts: ConnectWebSocketOptions = {},
): Promise<WebSocket> {
  const target = new URL(url);
  if (target.protocol === 'http:') target.protocol = 'ws:';
  if (target.protocol === 'https:') target.protocol = 'wss:';
  const secure = target.protocol === 'wss:';
  if (!secure && target.protocol !== 'ws:') {
    throw codedError(new TypeError(`not a WebSocket URL: ${target.href}`), 'ERR_INVALID_URL');
  }
  if (target.hash !== '') target.hash = '';
  const protocols = opts.protocols ?? [];
  // Validate the WebSocket's own options before connecting.
  const ws = new WebSocket('client', target.href, '', opts);
  const host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
  const port = target.port === '' ? (secure ? 443 : 80) : Number(target.port);
  using timer = Timeout.startNew(opts.timeout);
  let sock: Socket | undefined;
  try {
    sock = await connect({
      host,
      port,
      signal: opts.signal,
      ...(secure ? { tls: opts.tls ?? true } : {}),
    });
    const key = randomBytes(16).toString('base64');
    let request =
      `GET ${target.pathname}${target.search} HTTP/1.1\r\nhost: ${target.host}\r\nupgrade: websocket\r\n` +
      `connection: Upgrade\r\nsec-websocket-key: ${key}\r\nsec-websocket-version: 13\r\n`;
    if (protocols.length > 0) request += `sec-websocket-protocol: ${protocols.join(', ')}\r\n`;
    for (const [name, value] of new Headers(opts.headers)) request += `${name}: ${value}\r\n`;
    await sock.write(Buffer.from(`${request}\r\n`, 'latin1'));
    const head = Buffer.from(await sock.readUntil('\r\n\r\n', { maxBytes: 16 * 1024 })).toString('latin1');
    const lines = head.slice(0, -4).split('\r\n');
    const status = /^HTTP\/1\.1 (\d{3})(?: |$)/.exec(lines[0] ?? '');
    if (status === null) throw handshakeError(`malformed status line ${JSON.stringify(lines[0])}`);
    if (status[1] !== '101') throw handshakeError(`the server answered ${lines[0]}`, Number(status[1]));
    const fields = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw handshakeError('malformed header line');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      fields.set(name, fields.has(name) ? `${fields.get(name)}, ${value}` : value);
    }
    if (fields.get('upgrade')?.toLowerCase() !== 'websocket')
      throw handshakeError('no "Upgrade: websocket"', 101);
    if (!/(^|,)\s*upgrade\s*(,|$)/i.test(fields.get('connection') ?? '')) {
      throw handshakeError('no "Connection: upgrade"', 101);
    }
    if (fields.get('sec-websocket-accept') !== acceptKey(key))
      throw handshakeError('wrong Sec-WebSocket-Accept', 101);
    if (fields.has('sec-websocket-extensions')) throw handshakeError('an extension nobody asked for', 101);
    const protocol = fields.get('sec-websocket-protocol') ?? '';
    if (protocol !== '' && !protocols.includes(protocol)) {
      throw handshakeError(`subprotocol ${JSON.stringify(protocol)} was not offered`, 101);
    }
    timer.cancel();
    ws._setProtocol(protocol);
    ws._attach(sock, new Uint8Array(0));
    const reader = spawn(() => ws._read());
    reader.name = `websocket ${target.href}`;
    return ws;
  } catch (err) {
    sock?.close();
    ws._abandon();
    throw err;
  }
}
