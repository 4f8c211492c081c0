// The server side of the handshake: upgradeWebSocket(request), after Deno's.

import { codedError } from '@greenhub/core';
import { FastResponse, fastParts } from '../http/response.js';
import { UpgradeRefusal, upgradeSlot } from '../http/upgrade.js';
import { acceptKey } from './frame.js';
import { WebSocket, type WebSocketOptions } from './websocket.js';

/** Options of {@link upgradeWebSocket}. */
export interface UpgradeWebSocketOptions extends WebSocketOptions {
  /**
   * Subprotocols this server speaks, in its order of preference: the first
   * one the client offers is chosen (`ws.protocol`); none in common → no
   * subprotocol.
   */
  protocols?: readonly string[];
  /** Extra headers for the 101 response (`set-cookie`...). */
  headers?: ConstructorParameters<typeof Headers>[0];
}

const KEY = /^[A-Za-z0-9+/]{22}==$/;

/** The `101 Switching Protocols` a handler returns to accept an upgrade. */
class UpgradeResponse extends FastResponse {
  readonly #headers: Headers;

  constructor(headers: Headers) {
    super(null, { status: 200 });
    fastParts(this)!.status = 101; // the platform refuses to build a 101 response
    this.#headers = headers;
  }

  override get headers(): Headers {
    return this.#headers;
  }
  override get body(): null {
    return null;
  }
  override get statusText(): string {
    return 'Switching Protocols';
  }
}

function hasToken(value: string | null, token: string): boolean {
  return (value ?? '').split(',').some((t) => t.trim().toLowerCase() === token);
}

/**
 * Accept a WebSocket upgrade in a handler of {@link HttpServer}: returns the
 * WebSocket and the 101 response the handler must return. Once it is
 * returned, the server writes it and the connection belongs to the
 * WebSocket (no more HTTP on it); its frames are read by the connection's
 * greenlet, so use the WebSocket from another greenlet (spawn one before
 * returning). Until then `send()` waits and `receive()` waits for messages.
 *
 * @param request a request handed to an HttpServer handler.
 * @param opts `protocols`, `headers`, and the WebSocket's `maxMessageBytes`, `heartbeat`, `closeTimeout`.
 * @returns `{ socket, response }`.
 * @throws UpgradeRefusal (`ERR_WEBSOCKET_HANDSHAKE`) for a request that is
 *   not a valid RFC 6455 handshake — uncaught, the server answers it with its
 *   status: 426 with `Sec-WebSocket-Version: 13` for another version, else
 *   400. `ERR_WEBSOCKET_UNSUPPORTED` for a request that did not come from an
 *   HttpServer (or was upgraded already).
 * @example
 * serve({ port: 8080, fetch(request) {
 *   const { socket, response } = upgradeWebSocket(request);
 *   spawn(async () => { for await (const msg of socket) await socket.send(msg); });
 *   return response;
 * } });
 */
export function upgradeWebSocket(
  request: Request,
  opts: UpgradeWebSocketOptions = {},
): { socket: WebSocket; response: Response } {
  const headers = request.headers;
  if (request.method !== 'GET') throw new UpgradeRefusal(400, 'a WebSocket handshake must be a GET');
  if (!hasToken(headers.get('upgrade'), 'websocket')) {
    throw new UpgradeRefusal(400, 'the request has no "Upgrade: websocket"');
  }
  if (!hasToken(headers.get('connection'), 'upgrade')) {
    throw new UpgradeRefusal(400, 'the request has no "Connection: upgrade"');
  }
  if (headers.get('sec-websocket-version')?.trim() !== '13') {
    throw new UpgradeRefusal(426, 'only WebSocket version 13 is supported', 'sec-websocket-version: 13\r\n');
  }
  const key = headers.get('sec-websocket-key')?.trim() ?? '';
  if (!KEY.test(key)) throw new UpgradeRefusal(400, 'invalid Sec-WebSocket-Key');
  const slot = upgradeSlot(request);
  if (slot !== undefined && slot.minor !== 1)
    throw new UpgradeRefusal(400, 'a WebSocket handshake needs HTTP/1.1');
  if (slot === undefined || slot.response !== undefined) {
    throw codedError(
      new TypeError('upgradeWebSocket() needs a request from an HttpServer handler, not upgraded yet'),
      'ERR_WEBSOCKET_UNSUPPORTED',
    );
  }
  let protocol = '';
  const offered = (headers.get('sec-websocket-protocol') ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  for (const p of opts.protocols ?? []) {
    if (offered.includes(p)) {
      protocol = p;
      break;
    }
  }
  const socket = new WebSocket('server', request.url, protocol, opts);
  const out = new Headers(opts.headers);
  out.set('sec-websocket-accept', acceptKey(key));
  if (protocol !== '') out.set('sec-websocket-protocol', protocol);
  const response = new UpgradeResponse(out) as unknown as Response;
  slot.response = response;
  slot.take = (sock, buffered) => socket._run(sock, buffered);
  slot.abandon = () => socket._abandon();
  return { socket, response };
}
