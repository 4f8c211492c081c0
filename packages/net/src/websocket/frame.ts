// RFC 6455 framing: building frames, masking, close codes and the accept key.

import { createHash, randomFillSync } from 'node:crypto';

export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`. */
export function acceptKey(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

/** XOR `data` in place with the 4-byte `mask`, starting at mask byte `offset`. */
export function unmask(data: Uint8Array, mask: Uint8Array, offset = 0): void {
  const n = data.length;
  let i = 0;
  // Word at a time where the buffer is aligned (the usual case for a fresh Buffer).
  if (n >= 16 && (data.byteOffset & 3) === 0) {
    const words = new Uint32Array(data.buffer, data.byteOffset, n >>> 2);
    const m = new Uint8Array(4);
    for (let k = 0; k < 4; k++) m[k] = mask[(offset + k) & 3]!;
    const word = new Uint32Array(m.buffer)[0]!;
    for (let w = 0; w < words.length; w++) words[w]! ^= word;
    i = words.length << 2;
  }
  for (; i < n; i++) data[i]! ^= mask[(offset + i) & 3]!;
}

/**
 * One frame, FIN set: header, then (masked when `mask`) payload. A string
 * payload is written as UTF-8 straight into the frame.
 */
export function encodeFrame(opcode: number, payload: Uint8Array | string, mask: boolean): Buffer {
  const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  const headLength = (length < 126 ? 2 : length < 65536 ? 4 : 10) + (mask ? 4 : 0);
  const frame = Buffer.allocUnsafe(headLength + length);
  frame[0] = 0x80 | opcode;
  let at = 2;
  if (length < 126) frame[1] = length;
  else if (length < 65536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
    at = 4;
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
    at = 10;
  }
  if (typeof payload === 'string') frame.write(payload, headLength, 'utf8');
  else frame.set(payload, headLength);
  if (mask) {
    frame[1] |= 0x80;
    const key = frame.subarray(at, at + 4);
    randomFillSync(key);
    unmask(frame.subarray(headLength), key);
  }
  return frame;
}

/** The payload of a close frame: code and UTF-8 reason (empty for 1005, "no status"). */
export function closePayload(code: number, reason: string): Uint8Array {
  if (code === 1005) return new Uint8Array(0);
  const out = Buffer.allocUnsafe(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code, 0);
  out.write(reason, 2, 'utf8');
  return out;
}

/** A close code a peer may send (RFC 6455 §7.4: 1000-1003, 1007-1014, 3000-4999). */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}
