import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { unmask } from '../src/websocket/frame.js';

/** RFC 6455 §5.3, byte by byte: the definition the fast paths must match. */
function unmaskedByDefinition(data: Uint8Array, mask: Uint8Array): Uint8Array {
  return data.map((byte, i) => byte ^ mask[i % 4]!);
}

describe('WebSocket masking', () => {
  it('unmask() XORs with the mask, byte i with mask[i % 4], at every length and alignment', () => {
    const mask = randomBytes(4);
    // The mask inside a larger buffer, as the parser passes it (the frame and the key's offset).
    const frame = Buffer.concat([randomBytes(3), mask]);
    for (let length = 0; length <= 300; length++) {
      for (let align = 0; align < 4; align++) {
        const backing = randomBytes(length + align + 4);
        const before = Buffer.from(backing);
        const data = backing.subarray(align, align + length);
        const expected = unmaskedByDefinition(data, mask);
        unmask(data, frame, 3);
        expect(Buffer.from(data).equals(Buffer.from(expected)), `length ${length}, offset ${align}`).toBe(
          true,
        );
        // Bytes around the payload are left alone.
        expect(backing.subarray(0, align).equals(before.subarray(0, align))).toBe(true);
        expect(backing.subarray(align + length).equals(before.subarray(align + length))).toBe(true);
      }
    }
  });

  it('unmasking twice gives the original bytes back', () => {
    const mask = randomBytes(4);
    const original = randomBytes(1000);
    const data = Buffer.from(original);
    unmask(data, mask);
    expect(data.equals(original)).toBe(false);
    unmask(data, mask);
    expect(data.equals(original)).toBe(true);
  });
});
