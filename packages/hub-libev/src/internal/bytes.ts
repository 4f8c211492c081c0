/**
 * `length` bytes at `offset` of a buffer the addon reuses (its read or datagram slab), copied
 * out. A small copy comes from Node's Buffer pool, as `Buffer.allocUnsafe`'s do: no allocation
 * of its own. (`Buffer.from()` of a typed array takes Node's generic array-like path instead.)
 */
export function copyOut(from: Uint8Array, offset: number, length: number): Buffer {
  const copy = Buffer.allocUnsafe(length);
  copy.set(from.subarray(offset, offset + length));
  return copy;
}
