// The Request a handler of HttpServer receives: `instanceof Request`, with
// method, url, headers, signal and the body (stream or text()/json()/...)
// served straight from the connection. On Node 20 a platform Request costs
// several µs to build, so one is made only when something else is asked for
// (clone(), formData(), cache, ...), and then every member delegates to it.

const GlobalRequest = globalThis.Request;

/** @internal Where a request's body comes from: the connection, piece by piece. */
export interface BodySource {
  /** The next piece of the body, or null at its end. Throws what reading fails with (an HttpError for 400/408/413). */
  read(): Promise<Uint8Array | null>;
}

const decoder = new TextDecoder();

function unusable(): TypeError {
  return new TypeError('Body is unusable: Body has already been read');
}

/** @internal What the connection hands to {@link IncomingRequest}. */
export interface RequestInit {
  method: string;
  url: string;
  /** Header names and values, flat. */
  raw: string[];
  /** Null when the request has no body. */
  body: BodySource | null;
  /** The request's signal (made on first use): aborted when the client goes away or the handler greenlet is killed. */
  signal: () => AbortSignal;
}

/** @internal A WHATWG Request backed by a greenhub connection. */
export class IncomingRequest {
  readonly #init: RequestInit;
  #headers: Headers | undefined;
  #stream: ReadableStream<Uint8Array> | null | undefined;
  #used = false;
  #real: globalThis.Request | undefined;

  constructor(init: RequestInit) {
    this.#init = init;
  }

  get method(): string {
    return this.#init.method;
  }
  get url(): string {
    return this.#init.url;
  }
  get signal(): AbortSignal {
    return this.#init.signal();
  }
  get headers(): Headers {
    if (this.#headers === undefined) {
      const headers = new Headers();
      const raw = this.#init.raw;
      for (let i = 0; i < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
      this.#headers = headers;
    }
    return this.#headers;
  }

  /** The body as a web stream (null for a request without one). Pulled from the socket as it is read. */
  get body(): ReadableStream<Uint8Array> | null {
    if (this.#stream === undefined) {
      const source = this.#init.body;
      if (source === null) this.#stream = null;
      else {
        this.#stream = new ReadableStream<Uint8Array>(
          {
            pull: async (controller) => {
              this.#used = true;
              const piece = await source.read();
              if (piece === null) controller.close();
              else controller.enqueue(piece);
            },
          },
          { highWaterMark: 0 },
        );
      }
    }
    return this.#stream;
  }

  get bodyUsed(): boolean {
    if (this.#stream) return this.#used || this.#stream.locked;
    return this.#used;
  }

  /** Every byte of the body, read by this greenlet directly (no web stream). */
  async bytes(): Promise<Uint8Array> {
    if (this.bodyUsed) throw unusable();
    if (this.#stream !== undefined && this.#stream !== null) {
      return new Uint8Array(await new Response(this.#stream).arrayBuffer());
    }
    this.#used = true;
    const source = this.#init.body;
    if (source === null) return new Uint8Array(0);
    const pieces: Uint8Array[] = [];
    let size = 0;
    for (let piece = await source.read(); piece !== null; piece = await source.read()) {
      pieces.push(piece);
      size += piece.length;
    }
    return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, size);
  }
  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.bytes();
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }
  async text(): Promise<string> {
    return decoder.decode(await this.bytes());
  }
  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  /** The platform Request this one stands for, built on first need; the body moves to it. */
  #materialise(): globalThis.Request {
    if (this.#real === undefined) {
      const init = this.#init;
      const hasBody = init.body !== null && init.method !== 'GET' && init.method !== 'HEAD';
      this.#real = new GlobalRequest(init.url, {
        method: init.method,
        headers: this.headers,
        signal: init.signal(),
        ...(hasBody ? { body: this.body, duplex: 'half' } : {}),
      } as globalThis.RequestInit);
    }
    return this.#real;
  }

  blob(): Promise<Blob> {
    return this.#materialise().blob();
  }
  formData(): Promise<FormData> {
    return this.#materialise().formData();
  }
  clone(): globalThis.Request {
    return this.#materialise().clone();
  }
  get [Symbol.toStringTag](): string {
    return 'Request';
  }

  /** @internal The platform Request behind `request` (for the members delegated to it). */
  static materialise(request: IncomingRequest): globalThis.Request {
    return request.#materialise();
  }
}

// Everything else a Request has (cache, mode, referrer, duplex, ...) comes from the platform Request.
for (const key of Object.getOwnPropertyNames(GlobalRequest.prototype)) {
  if (key === 'constructor' || Object.hasOwn(IncomingRequest.prototype, key)) continue;
  const platform = Object.getOwnPropertyDescriptor(GlobalRequest.prototype, key)!;
  if (platform.get) {
    Object.defineProperty(IncomingRequest.prototype, key, {
      configurable: true,
      enumerable: platform.enumerable,
      get(this: IncomingRequest) {
        return Reflect.get(IncomingRequest.materialise(this), key);
      },
    });
  } else if (typeof platform.value === 'function') {
    Object.defineProperty(IncomingRequest.prototype, key, {
      configurable: true,
      writable: true,
      value(this: IncomingRequest, ...args: unknown[]) {
        const real = IncomingRequest.materialise(this) as unknown as Record<
          string,
          (...a: unknown[]) => unknown
        >;
        return real[key]!(...args);
      },
    });
  }
}
Object.setPrototypeOf(IncomingRequest.prototype, GlobalRequest.prototype);
