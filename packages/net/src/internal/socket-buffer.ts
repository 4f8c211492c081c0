/** @internal A FIFO of received chunks with cheap take-from-front and search. */
export class ChunkBuffer {
  #chunks: Uint8Array[] = [];
  #size = 0;

  /** Bytes held. */
  get size(): number {
    return this.#size;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#size += chunk.length;
  }

  clear(): void {
    this.#chunks = [];
    this.#size = 0;
  }

  /** Remove and return up to `n` bytes from the front (the first chunk as is when it fits). */
  take(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (first === undefined || n <= 0) return new Uint8Array(0);
    if (first.length === n || (first.length < n && this.#chunks.length === 1)) {
      this.#chunks.shift();
      this.#size -= first.length;
      return first;
    }
    if (first.length > n) {
      this.#chunks[0] = first.subarray(n);
      this.#size -= n;
      return first.subarray(0, n);
    }
    const want = Math.min(n, this.#size);
    const out = new Uint8Array(want);
    let filled = 0;
    while (filled < want) {
      const head = this.#chunks[0]!;
      const part = Math.min(head.length, want - filled);
      out.set(part === head.length ? head : head.subarray(0, part), filled);
      filled += part;
      if (part === head.length) this.#chunks.shift();
      else this.#chunks[0] = head.subarray(part);
    }
    this.#size -= want;
    return out;
  }

  /** Remove and return the first chunk whole (at most `max` bytes of it). */
  takeChunk(max: number): Uint8Array {
    const first = this.#chunks[0];
    if (first === undefined) return new Uint8Array(0);
    return this.take(Math.min(first.length, max));
  }

  /** Index of `needle` in the held bytes at or after `from`, or -1. Merges chunks into one. */
  indexOf(needle: Uint8Array, from: number): number {
    if (this.#chunks.length > 1) {
      const merged = Buffer.concat(this.#chunks, this.#size);
      this.#chunks = [merged];
    }
    const only = this.#chunks[0];
    if (only === undefined) return -1;
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
