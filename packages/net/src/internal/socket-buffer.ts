/**
 * @internal A FIFO of received chunks with cheap take-from-front and search.
 *
 * A socket mostly holds one chunk at a time (it arrives, the reader takes it
 * whole), so that one lives in a field of its own: an array that a push and a
 * shift empty again would allocate its storage anew for every chunk.
 */
/** The #rest of a buffer that never held two chunks at once: shared, never pushed to. */
const NO_CHUNKS: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[];

export class ChunkBuffer {
  /** The first chunk; the others, in order, in #rest (its own array once a second chunk came). */
  #first: Uint8Array | undefined;
  #rest: Uint8Array[] = NO_CHUNKS;
  #size = 0;

  /** Bytes held. */
  get size(): number {
    return this.#size;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#first === undefined) this.#first = chunk;
    else if (this.#rest === NO_CHUNKS) this.#rest = [chunk];
    else this.#rest.push(chunk);
    this.#size += chunk.length;
  }

  clear(): void {
    this.#first = undefined;
    this.#rest = NO_CHUNKS;
    this.#size = 0;
  }

  /** Drop the first chunk; the next one (if any) moves up. */
  #shift(): void {
    this.#first = this.#rest.length > 0 ? this.#rest.shift() : undefined;
  }

  /** Remove and return up to `n` bytes from the front (the first chunk as is when it fits). */
  take(n: number): Uint8Array {
    const first = this.#first;
    if (first === undefined || n <= 0) return new Uint8Array(0);
    if (first.length === n || (first.length < n && this.#rest.length === 0)) {
      this.#shift();
      this.#size -= first.length;
      return first;
    }
    if (first.length > n) {
      this.#first = first.subarray(n);
      this.#size -= n;
      return first.subarray(0, n);
    }
    const want = Math.min(n, this.#size);
    const out = new Uint8Array(want);
    let filled = 0;
    while (filled < want) {
      const head = this.#first!;
      const part = Math.min(head.length, want - filled);
      out.set(part === head.length ? head : head.subarray(0, part), filled);
      filled += part;
      if (part === head.length) this.#shift();
      else this.#first = head.subarray(part);
    }
    this.#size -= want;
    return out;
  }

  /** Remove and return the first chunk whole (at most `max` bytes of it). */
  takeChunk(max: number): Uint8Array {
    const first = this.#first;
    if (first === undefined) return new Uint8Array(0);
    return this.take(Math.min(first.length, max));
  }

  /** Index of `needle` in the held bytes at or after `from`, or -1. Merges chunks into one. */
  indexOf(needle: Uint8Array, from: number): number {
    let only = this.#first;
    if (only === undefined) return -1;
    if (this.#rest.length > 0) {
      only = Buffer.concat([only, ...this.#rest], this.#size);
      this.#first = only;
      this.#rest = NO_CHUNKS;
    }
    const buf = Buffer.from(only.buffer, only.byteOffset, only.byteLength);
    return buf.indexOf(needle, from);
  }
}

/** @internal A line's text: its bytes without the trailing `\n` or `\r\n`, decoded as UTF-8. */
export function decodeLine(raw: Uint8Array): string {
  let end = raw.length;
  if (end > 0 && raw[end - 1] === 0x0a) {
    end--;
    if (end > 0 && raw[end - 1] === 0x0d) end--;
  }
  return Buffer.from(raw.buffer, raw.byteOffset, end).toString('utf8');
}
