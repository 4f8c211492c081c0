import * as net from 'node:net';

/** One parsed HTTP response, as a client read it off the wire. */
export interface WireResponse {
  status: number;
  statusLine: string;
  /** Header names lowercased; repeated headers joined with ', ' (set-cookie kept apart in `raw`). */
  headers: Record<string, string>;
  /** Header lines as received. */
  raw: string[];
  body: Buffer;
}

/**
 * A raw HTTP/1.1 client on Node's own `net` (an independent peer): send exact
 * bytes, read responses one at a time (Content-Length, chunked or
 * close-delimited bodies). Every wait fails after `timeoutMs`.
 */
export class RawClient {
  readonly socket: net.Socket;
  #buf = Buffer.alloc(0);
  #ended = false;
  #wake: (() => void) | undefined;
  readonly timeoutMs: number;

  private constructor(socket: net.Socket, timeoutMs: number) {
    this.socket = socket;
    this.timeoutMs = timeoutMs;
    socket.on('data', (chunk: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, chunk]);
      this.#wake?.();
    });
    socket.on('end', () => {
      this.#ended = true;
      this.#wake?.();
    });
    socket.on('close', () => {
      this.#ended = true;
      this.#wake?.();
    });
    socket.on('error', () => {});
  }

  static connect(port: number, timeoutMs = 3000): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection({ host: '127.0.0.1', port }, () =>
        resolve(new RawClient(socket, timeoutMs)),
      );
      socket.once('error', reject);
    });
  }

  send(data: string | Uint8Array): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** True once the server ended its side. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Bytes received and not yet consumed. */
  get pending(): Buffer {
    return this.#buf;
  }

  async #more(what: string): Promise<void> {
    if (this.#ended) throw new Error(`connection ended while waiting for ${what}`);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        reject(new Error(`timed out after ${this.timeoutMs} ms waiting for ${what}`));
      }, this.timeoutMs);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
    });
  }

  #take(n: number): Buffer {
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  async #line(what: string): Promise<string> {
    for (;;) {
      const at = this.#buf.indexOf('\r\n');
      if (at >= 0) {
        const line = this.#buf.toString('latin1', 0, at);
        this.#take(at + 2);
        return line;
      }
      await this.#more(what);
    }
  }

  async #exactly(n: number, what: string): Promise<Buffer> {
    while (this.#buf.length < n) await this.#more(what);
    return Buffer.from(this.#take(n));
  }

  /** Read one response. `head` tells that it answers a HEAD request (no body). Skips 1xx unless `interim`. */
  async response(opts: { head?: boolean; interim?: boolean } = {}): Promise<WireResponse> {
    for (;;) {
      const statusLine = await this.#line('a status line');
      const status = Number(statusLine.split(' ')[1]);
      const raw: string[] = [];
      const headers: Record<string, string> = {};
      for (let line = await this.#line('a header'); line !== ''; line = await this.#line('a header')) {
        raw.push(line);
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).toLowerCase();
        const value = line.slice(colon + 1).trim();
        headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
      }
      if (status < 200) {
        if (opts.interim) return { status, statusLine, headers, raw, body: Buffer.alloc(0) };
        continue;
      }
      let body: Buffer;
      if (opts.head || status === 204 || status === 304) body = Buffer.alloc(0);
      else if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
        const parts: Buffer[] = [];
        for (;;) {
          const size = Number.parseInt(await this.#line('a chunk size'), 16);
          if (size === 0) {
            while ((await this.#line('a trailer')) !== '') {}
            break;
          }
          parts.push(await this.#exactly(size, 'chunk data'));
          await this.#line('a chunk end');
        }
        body = Buffer.concat(parts);
      } else if (headers['content-length'] !== undefined) {
        body = await this.#exactly(Number(headers['content-length']), 'the body');
      } else {
        while (!this.#ended) await this.#more('the end of a close-delimited body');
        body = this.#take(this.#buf.length);
      }
      return { status, statusLine, headers, raw, body };
    }
  }

  /** Wait until the server closes its side; throws after the timeout. */
  async waitEnd(): Promise<void> {
    while (!this.#ended) await this.#more('the server to close');
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A request's bytes: `GET /path HTTP/1.1` with Host and the given extra header lines and body. */
export function request(
  method: string,
  path: string,
  opts: { headers?: string[]; body?: string } = {},
): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: test.local', ...(opts.headers ?? [])];
  if (opts.body !== undefined && !lines.some((l) => /^(content-length|transfer-encoding):/i.test(l))) {
    lines.push(`Content-Length: ${Buffer.byteLength(opts.body)}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n${opts.body ?? ''}`;
}
