// The hook between the HTTP server and a protocol that takes over its
// connection after a `101 Switching Protocols` (WebSocket). A request whose
// head asks for an upgrade carries an UpgradeSlot; `upgradeWebSocket()` fills
// it in, and when the handler returns the slot's response the connection
// writes the 101 and hands its socket to `take`, inside the connection's own
// greenlet — so the server still owns the socket's lifetime (`stop()` kills
// that greenlet, and the socket is closed when it returns).

import type { Socket } from '../socket.js';
import { HttpError } from './parse.js';

/** @internal Where an IncomingRequest keeps its UpgradeSlot. */
export const UPGRADE = Symbol('greenhub.upgrade');

/** @internal The upgrade state of one request. */
export interface UpgradeSlot {
  /** The request's HTTP minor version (an upgrade needs HTTP/1.1). */
  readonly minor: number;
  /** The 101 response the handler must return for the switch to happen. */
  response?: Response;
  /** Run the new protocol on the connection until it ends; `buffered` holds bytes read past the head. */
  take?(sock: Socket, buffered: Uint8Array): Promise<void>;
  /** The handler answered with something else (or failed): the upgrade will never happen. */
  abandon?(): void;
}

/** @internal The slot of `request`, when it came from HttpServer with an upgrade in its head. */
export function upgradeSlot(request: Request): UpgradeSlot | undefined {
  return (request as unknown as { [UPGRADE]?: UpgradeSlot })[UPGRADE];
}

/**
 * A refused upgrade handshake: the server answers it with `status` (and the
 * extra header lines in `fields`) instead of reporting a failing handler.
 */
export class UpgradeRefusal extends HttpError {
  override name = 'UpgradeRefusal';
  /** @internal Header lines (each ending in CRLF) added to the refusal. */
  readonly fields: string;

  constructor(status: number, message: string, fields = '') {
    super(status, 'ERR_WEBSOCKET_HANDSHAKE', message);
    this.fields = fields;
  }
}
