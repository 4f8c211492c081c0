import type { Readable, Writable } from 'node:stream';
import { Waiter } from '@greenhub/core';
import { ConcurrentUse, limitOverrunError } from '../errors.js';
import { ChunkBuffer, decodeLine } from './socket-buffer.js';

/** @internal Above this many buffered bytes a process reader pauses its pipe. */
export const PIPE_HIGH_WATER_MARK = 64 * 1024;
const DEFAULT_MAX_LINE = 64 * 1024;
const NEWLINE = new Uint8Array([0x0a]);

/**
 * The readable end of a child's stdout or stderr: cooperative `read()`,
 * `readLine()`, `readAll()` and async iteration over a Node pipe. Every wait
 * is a core `Waiter` of kind `'process read'`, so `kill()`, `Timeout` and an
 * aborted signal interrupt it. The pipe is paused while more than 64 KiB is
 * buffered unread (the child's writes then block in the kernel).
 *
 * @example
 * for (let line = await proc.stdout.readLine(); line !== null; line = await proc.stdout.readLine()) console.log(line);
 */
export class ProcessReader implements AsyncIterable<Uint8Array> {
  readonly #stream: Readable | null;
  readonly #buffer = new ChunkBuffer();
  #eof = false;
  #error: Error | undefined;
  #busy = false;
  #paused = false;
  #waiter: Waiter<void> | undefined;

  /** @internal Wrap a child's pipe (or `null` for an end that is not a pipe: always at end of stream). */
  constructor(stream: Readable | null) {
    this.#stream = stream;
    if (stream === null) {
      this.#eof = true;
      return;
    }
    stream.on('data', (chunk: Buffer) => {
      this.#buffer.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      if (this.#buffer.size >= PIPE_HIGH_WATER_MARK && !this.#paused) {
        this.#paused = true;
        stream.pause();
      }
      this.#waiter?.switch();
    });
    stream.on('end', () => {
      this.#eof = true;
      this.#waiter?.switch();
    });
    stream.on('close', () => {
      this.#eof = true;
      this.#waiter?.switch();
    });
    stream.on('error', (err: Error) => {
      this.#error ??= err;
      this.#waiter?.switch();
    });
  }

  /** True once the child closed its end and every byte was read. */
  get atEnd(): boolean {
    return this.#eof && this.#buffer.size === 0;
  }

  #begin(): void {
    if (this.#busy) throw new ConcurrentUse('another greenlet is already reading this pipe');
    this.#busy = true;
  }

  #afterTake(): void {
    if (this.#paused && this.#buffer.size < PIPE_HIGH_WATER_MARK) {
      this.#paused = false;
      this.#stream?.resume();
    }
  }

  async #waitMore(): Promise<void> {
    if (this.#paused) {
      // A reader that needs more than the buffer holds reads on regardless.
      this.#paused = false;
      this.#stream?.resume();
    }
    const waiter = new Waiter<void>('process read');
    this.#waiter = waiter;
    try {
      await waiter.get();
    } finally {
      if (this.#waiter === waiter) this.#waiter = undefined;
    }
  }

  /**
   * Read what is available, waiting for at least one byte.
   *
   * @param maxBytes the most bytes to return (default: a whole received chunk).
   * @returns a chunk of 1 to `maxBytes` bytes, or `null` at end of stream.
   * @throws ConcurrentUse if another greenlet is reading; the pipe's error.
   * @example
   * for (let c = await proc.stdout.read(); c; c = await proc.stdout.read()) sink(c);
   */
  async read(maxBytes = Number.POSITIVE_INFINITY): Promise<Uint8Array | null> {
    if (!(maxBytes > 0))
      throw Object.assign(new RangeError('maxBytes must be > 0'), { code: 'ERR_OUT_OF_RANGE' });
    this.#begin();
    try {
      for (;;) {
        if (this.#buffer.size > 0) {
          const out = this.#buffer.takeChunk(maxBytes);
          this.#afterTake();
          return out;
        }
        if (this.#error) throw this.#error;
        if (this.#eof) return null;
        await this.#waitMore();
      }
    } finally {
      this.#busy = false;
    }
  }

  /**
   * Read one line and decode it as UTF-8.
   *
   * @param opts.maxBytes the longest line accepted, newline included (default 64 KiB).
   * @returns the line without its `\n` or `\r\n`; a last line without a newline
   *   as is; `null` at end of stream.
   * @throws `ERR_LIMIT_OVERRUN` for a longer line (the bytes stay buffered);
   *   otherwise as {@link ProcessReader.read}.
   * @example
   * const reply = await proc.stdout.readLine();
   */
  async readLine(opts?: { maxBytes?: number }): Promise<string | null> {
    const maxBytes = opts?.maxBytes ?? DEFAULT_MAX_LINE;
    if (!(maxBytes >= 1))
      throw Object.assign(new RangeError(`maxBytes must be >= 1, got ${maxBytes}`), {
        code: 'ERR_OUT_OF_RANGE',
      });
    this.#begin();
    let raw: Uint8Array | null = null;
    try {
      let scanned = 0;
      for (;;) {
        const size = this.#buffer.size;
        if (size > scanned) {
          const at = this.#buffer.indexOf(NEWLINE, scanned);
          if (at >= 0 && at + 1 <= maxBytes) {
            raw = this.#buffer.take(at + 1);
            this.#afterTake();
            break;
          }
          if (at >= 0 || size >= maxBytes) throw limitOverrunError(maxBytes);
          scanned = size;
        }
        if (this.#error) throw this.#error;
        if (this.#eof) {
          if (size === 0) return null;
          raw = this.#buffer.take(size);
          break;
        }
        await this.#waitMore();
      }
    } finally {
      this.#busy = false;
    }
    return decodeLine(raw);
  }

  /**
   * Read everything until end of stream.
   *
   * @returns every remaining byte (possibly empty).
   * @throws as {@link ProcessReader.read}.
   * @example
   * const out = Buffer.from(await proc.stdout.readAll()).toString();
   */
  async readAll(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let c = await this.read(); c !== null; c = await this.read()) {
      parts.push(c);
      total += c.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
  }

  /**
   * Yield chunks until end of stream.
   *
   * @returns an async iterator of chunks.
   * @throws as {@link ProcessReader.read}.
   * @example
   * for await (const chunk of proc.stderr) log(chunk);
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    for (;;) {
      const chunk = await this.read();
      if (chunk === null) return;
      yield chunk;
    }
  }

  /** @internal Stop reading and drop what is buffered. */
  _destroy(): void {
    this.#buffer.clear();
    this.#eof = true;
    this.#stream?.destroy();
    this.#waiter?.switch();
  }
}

/**
 * The writable end of a child's stdin: cooperative `write()` that waits on
 * backpressure (a `'drain'`, wait kind `'process write'`) and `end()`.
 *
 * @example
 * await proc.stdin.write('hello\n');
 * await proc.stdin.end();
 */
export class ProcessWriter {
  readonly #stream: Writable | null;
  #error: Error | undefined;
  #ended = false;
  #busy = false;
  #waiter: Waiter<void> | undefined;

  /** @internal Wrap a child's stdin pipe (or `null` when stdin is not a pipe). */
  constructor(stream: Writable | null) {
    this.#stream = stream;
    if (stream === null) {
      this.#ended = true;
      return;
    }
    const wake = (): void => {
      this.#waiter?.switch();
    };
    stream.on('drain', wake);
    stream.on('close', wake);
    stream.on('error', (err: Error) => {
      this.#error ??= err;
      wake();
    });
  }

  #begin(what: string): Writable {
    if (this.#busy) throw new ConcurrentUse('another greenlet is already writing this pipe');
    if (this.#error) throw this.#error;
    if (this.#ended || this.#stream === null) {
      throw Object.assign(new Error(`${what} after end()`), { code: 'ERR_STREAM_WRITE_AFTER_END' });
    }
    this.#busy = true;
    return this.#stream;
  }

  async #wait(): Promise<void> {
    const waiter = new Waiter<void>('process write');
    this.#waiter = waiter;
    try {
      await waiter.get();
    } finally {
      if (this.#waiter === waiter) this.#waiter = undefined;
    }
  }

  /**
   * Write bytes (or UTF-8 text) to the child; wait while Node's buffer for the
   * pipe is above its high-water mark, until it drains.
   *
   * @param data bytes or text.
   * @returns once the bytes are queued below the high-water mark.
   * @throws ConcurrentUse if another greenlet is writing; `EPIPE` once the child
   *   closed its stdin; `ERR_STREAM_WRITE_AFTER_END` after `end()`.
   * @example
   * await proc.stdin.write('quit\n');
   */
  async write(data: Uint8Array | string): Promise<void> {
    const stream = this.#begin('write');
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      if (bytes.length === 0) return;
      if (stream.write(bytes)) return;
      while (stream.writableNeedDrain && !stream.destroyed && !this.#error) await this.#wait();
      if (this.#error) throw this.#error;
      if (stream.destroyed) throw Object.assign(new Error('write to a closed stdin'), { code: 'EPIPE' });
    } finally {
      this.#busy = false;
    }
  }

  /**
   * Close the child's stdin after every queued byte was flushed (the child sees
   * end of input). A second `end()` is a no-op.
   *
   * @returns once the pipe was flushed and closed.
   * @throws the pipe's error (`EPIPE`).
   * @example
   * await proc.stdin.end();
   */
  async end(): Promise<void> {
    if (this.#ended && !this.#busy) return;
    const stream = this.#begin('end');
    this.#ended = true;
    try {
      if (!stream.writableFinished && !stream.destroyed) {
        let done = false;
        const finish = (): void => {
          done = true;
          this.#waiter?.switch();
        };
        stream.once('finish', finish);
        try {
          stream.end();
          while (!done && !stream.destroyed && !this.#error) await this.#wait();
        } finally {
          stream.off('finish', finish);
        }
      }
      if (this.#error) throw this.#error;
    } finally {
      this.#busy = false;
    }
  }

  /** @internal Close at once, dropping unsent bytes. */
  _destroy(): void {
    this.#ended = true;
    this.#stream?.destroy();
    this.#waiter?.switch();
  }
}
