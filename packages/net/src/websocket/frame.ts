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

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * XOR `data` in place with the 4-byte mask at `mask[at..at+3]`. Small payloads
 * (most messages) go byte by byte with the mask in locals; from 128 bytes on,
 * a word at a time from the first aligned byte.
 */
export function unmask(data: Uint8Array, mask: Uint8Array, at = 0): void {
  const n = data.length;
  let i = 0;
  if (n >= 128) {
    const lead = (4 - (data.byteOffset & 3)) & 3;
    for (; i < lead; i++) data[i]! ^= mask[at + (i & 3)]!;
    const b0 = mask[at + (lead & 3)]!;
    const b1 = mask[at + ((lead + 1) & 3)]!;
    const b2 = mask[at + ((lead + 2) & 3)]!;
    const b3 = mask[at + ((lead + 3) & 3)]!;
    const word = LITTLE_ENDIAN
      ? b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)
      : (b0 << 24) | (b1 << 16) | (b2 << 8) | b3;
    const words = new Int32Array(data.buffer, data.byteOffset + lead, (n - lead) >>> 2);
    for (let w = 0; w < words.length; w++) words[w]! ^= word;
    i = lead + (words.length << 2);
  }
  const m0 = mask[at]!;
  const m1 = mask[at + 1]!;
  const m2 = mask[at + 2]!;
  const m3 = mask[at + 3]!;
  // i is 0 or a multiple of 4 past an aligned start plus `lead`: take the phase from it.
  for (; i < n && (i & 3) !== 0; i++) data[i]! ^= mask[at + (i & 3)]!;
  for (; i + 4 <= n; i += 4) {
    data[i]! ^= m0;
    data[i + 1]! ^= m1;
    data[i + 2]! ^= m2;
    data[i + 3]! ^= m3;
  }
  for (; i < n; i++) data[i]! ^= mask[at + (i & 3)]!;
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
    randomFillSync(frame, at, 4);
    unmask(frame.subarray(headLength), frame, at);
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
