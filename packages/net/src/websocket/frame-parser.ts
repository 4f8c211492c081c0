// Incoming RFC 6455 frames → messages and control frames, with every check a
// receiver must make: masking by role, reserved bits, opcodes, control frame
// rules, fragmentation, UTF-8 (incremental across fragments) and the
// message size limit.

import { isUtf8 } from 'node:buffer';
import {
  isValidCloseCode,
  OP_BINARY,
  OP_CLOSE,
  OP_CONTINUATION,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  unmask,
} from './frame.js';

/** A received message: a string for a text message, bytes for a binary one. */
export type WebSocketMessage = string | Uint8Array;

/** What the next frames meant. `error` is a violation to close the connection with (1002, 1007, 1009). */
export type Parsed =
  | { type: 'message'; data: WebSocketMessage }
  | { type: 'ping' | 'pong'; payload: Buffer }
  | { type: 'close' | 'error'; code: number; reason: string };

function violation(code: number, reason: string): Parsed {
  return { type: 'error', code, reason };
}

/** @internal Parses one direction of a connection. */
export class FrameParser {
  /** Whether frames must be masked (a server reading a client's) or must not be. */
  readonly #masked: boolean;
  readonly #maxMessage: number;
  /** Pending bytes as a list of chunks, so a large frame is joined once. */
  #chunks: Buffer[] = [];
  #size = 0;
  /** The opcode of the fragmented message being assembled, 0 when none. */
  #fragOp = 0;
  #fragSize = 0;
  #fragParts: Uint8Array[] = [];
  #fragText = '';
  #fragDecoder: InstanceType<typeof TextDecoder> | undefined;

  constructor(masked: boolean, maxMessage: number) {
    this.#masked = masked;
    this.#maxMessage = maxMessage;
  }

  /** Bytes received, in order (the parser keeps them: the caller must not reuse them). */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    // Both hubs hand out Buffers already: a view is made only for other Uint8Arrays.
    this.#chunks.push(
      Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length),
    );
    this.#size += chunk.length;
  }

  /** Drop what is buffered and any message half assembled (after a violation the stream is lost). */
  reset(): void {
    this.#chunks = [];
    this.#size = 0;
    this.#endMessage();
  }

  /** The first chunk holding at least `n` bytes (joining chunks if needed), or undefined if fewer are here. */
  #peek(n: number): Buffer | undefined {
    const first = this.#chunks[0];
    if (first !== undefined && first.length >= n) return first;
    if (this.#size < n) return undefined;
    const joined = Buffer.concat(this.#chunks, this.#size);
    this.#chunks = [joined];
    return joined;
  }

  #consume(n: number): void {
    const first = this.#chunks[0]!;
    this.#size -= n;
    if (first.length === n) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(n);
  }

  /**
   * The meaning of the next complete frames: a message (once its last
   * fragment is here), a control frame or a violation; undefined when more
   * bytes are needed. A message too large is refused from its header, before
   * its payload is buffered.
   */
  next(): Parsed | undefined {
    for (;;) {
      const head = this.#peek(2);
      if (head === undefined) return undefined;
      const b0 = head[0]!;
      const b1 = head[1]!;
      const fin = (b0 & 0x80) !== 0;
      const op = b0 & 0x0f;
      if ((b0 & 0x70) !== 0) return violation(1002, 'reserved bits set');
      if ((op > OP_BINARY && op < OP_CLOSE) || op > OP_PONG) return violation(1002, `unknown opcode ${op}`);
      const control = op >= OP_CLOSE;
      let length = b1 & 0x7f;
      if (control && !fin) return violation(1002, 'fragmented control frame');
      if (control && length > 125) return violation(1002, 'control frame over 125 bytes');
      const masked = (b1 & 0x80) !== 0;
      if (masked !== this.#masked) {
        return violation(1002, masked ? 'masked frame from the server' : 'unmasked frame from the client');
      }
      if (op === OP_CONTINUATION && this.#fragOp === 0) return violation(1002, 'continuation of no message');
      if ((op === OP_TEXT || op === OP_BINARY) && this.#fragOp !== 0) {
        return violation(1002, 'a new message inside a fragmented one');
      }
      let headLength = 2;
      if (length >= 126) {
        const ext = this.#peek(length === 126 ? 4 : 10);
        if (ext === undefined) return undefined;
        if (length === 126) {
          length = ext.readUInt16BE(2);
          headLength = 4;
        } else {
          const high = ext.readUInt32BE(2);
          if (high >= 0x80000000) return violation(1002, 'frame length with its top bit set');
          length = high * 2 ** 32 + ext.readUInt32BE(6);
          headLength = 10;
        }
      }
      if (!control && (op === OP_CONTINUATION ? this.#fragSize : 0) + length > this.#maxMessage) {
        return violation(1009, `message over ${this.#maxMessage} bytes`);
      }
      const maskAt = headLength;
      if (masked) headLength += 4;
      const frame = this.#peek(headLength + length);
      if (frame === undefined) return undefined;
      const payload = frame.subarray(headLength, headLength + length);
      if (masked) unmask(payload, frame, maskAt);
      this.#consume(headLength + length);
      const parsed = control ? controlFrame(op, payload) : this.#data(op, fin, payload);
      if (parsed !== undefined) return parsed;
    }
  }

  /** A data frame: a whole message, or a fragment (undefined until the last one). */
  #data(op: number, fin: boolean, payload: Buffer): Parsed | undefined {
    if (op !== OP_CONTINUATION) {
      if (fin) {
        if (op === OP_BINARY) return { type: 'message', data: payload };
        if (!isUtf8(payload)) return violation(1007, 'text message not valid UTF-8');
        return { type: 'message', data: payload.toString('utf8') };
      }
      this.#fragOp = op;
      if (op === OP_TEXT) this.#fragDecoder = new TextDecoder('utf-8', { fatal: true });
    }
    this.#fragSize += payload.length;
    if (this.#fragOp === OP_TEXT) {
      try {
        this.#fragText += this.#fragDecoder!.decode(payload, { stream: !fin });
      } catch {
        return violation(1007, 'text message not valid UTF-8');
      }
    } else this.#fragParts.push(payload);
    if (!fin) return undefined;
    const data = this.#fragOp === OP_TEXT ? this.#fragText : Buffer.concat(this.#fragParts, this.#fragSize);
    this.#endMessage();
    return { type: 'message', data };
  }

  #endMessage(): void {
    this.#fragOp = 0;
    this.#fragSize = 0;
    this.#fragParts = [];
    this.#fragText = '';
    this.#fragDecoder = undefined;
  }
}

/** A control frame (already checked: final, at most 125 bytes). */
function controlFrame(op: number, payload: Buffer): Parsed {
  if (op === OP_PING) return { type: 'ping', payload };
  if (op === OP_PONG) return { type: 'pong', payload };
  if (payload.length === 0) return { type: 'close', code: 1005, reason: '' };
  if (payload.length === 1) return violation(1002, 'close frame with a 1-byte payload');
  const code = payload.readUInt16BE(0);
  if (!isValidCloseCode(code)) return violation(1002, `invalid close code ${code}`);
  const reason = payload.subarray(2);
  if (!isUtf8(reason)) return violation(1007, 'close reason not valid UTF-8');
  return { type: 'close', code, reason: reason.toString('utf8') };
}
