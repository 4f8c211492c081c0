// A drop-in for the global Response that stays a plain object until someone
// needs more than its status and its body: on Node 20, `new Response('hi')`
// builds a web ReadableStream and costs ~10 µs — more than the whole request
// otherwise costs the server. The server reads a greenhub Response's parts
// directly; anything else (headers, body stream, text()...) materialises a real
// Response once and delegates to it, so behaviour is the platform's.

import { BAD_VALUE_CHAR } from './parse.js';

const GlobalResponse = globalThis.Response;

type BodyInit = ConstructorParameters<typeof GlobalResponse>[0];
type HeadersInit = NonNullable<ResponseInit['headers']>;

/** Statuses whose responses never have a body (the platform refuses one). */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

type Parts = {
  body: BodyInit | null;
  status: number;
  statusText: string;
  headers: HeadersInit | undefined;
  /** Content-Type the platform would add for this body when the headers lack one. */
  defaultType: string | undefined;
};

/** Where a FastResponse keeps its parts until it is materialised (a symbol, not a WeakMap: cheaper for the GC). */
const PARTS = Symbol('greenhub.responseParts');

function defaultContentType(body: BodyInit | null): string | undefined {
  if (typeof body === 'string') return 'text/plain;charset=UTF-8';
  if (body instanceof URLSearchParams) return 'application/x-www-form-urlencoded;charset=UTF-8';
  return undefined;
}

/**
 * The WHATWG `Response`, for handlers of {@link HttpServer}: same
 * constructor, statics and members (it is `instanceof Response`), but a
 * string or bytes body costs almost nothing to create and send. Use it in
 * place of the global one where speed matters; the server accepts both.
 *
 * @example
 * import { Response, serve } from '@greenhub/net';
 * await serve({ port: 8080, fetch: () => new Response('Hello, world!') });
 */
export class FastResponse {
  #real: globalThis.Response | undefined;
  /** @internal */
  [PARTS]: Parts | undefined;

  /**
   * @param body as for the global `Response`.
   * @param init `status` (200-599), `statusText`, `headers`.
   * @throws RangeError for a status outside 200-599; TypeError for a body with a null-body status.
   */
  constructor(body?: BodyInit | null, init?: ResponseInit) {
    const status = init?.status ?? 200;
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new RangeError(`init["status"] must be in the range of 200 to 599, inclusive (got ${status})`);
    }
    const content = body ?? null;
    if (content !== null && NULL_BODY_STATUS.has(status)) {
      throw new TypeError(`Response with null body status ${status} cannot have body`);
    }
    const statusText = init?.statusText ?? '';
    if (statusText !== '' && BAD_VALUE_CHAR.test(statusText)) throw new TypeError('Invalid statusText');
    this[PARTS] = {
      body: content,
      status,
      statusText,
      headers: init?.headers,
      defaultType: defaultContentType(content),
    };
  }

  /** A JSON response (`content-type: application/json`), like `Response.json()`. */
  static json(data: unknown, init?: ResponseInit): globalThis.Response {
    const text = JSON.stringify(data);
    if (text === undefined) throw new TypeError('Value is not JSON serializable');
    if (init?.headers !== undefined) return GlobalResponse.json(data, init);
    return new FastResponse(text, {
      ...init,
      headers: { 'content-type': 'application/json' },
    }) as unknown as globalThis.Response;
  }

  /** As `Response.redirect()` (a platform Response). */
  static redirect(url: string | URL, status?: 301 | 302 | 303 | 307 | 308): globalThis.Response {
    return GlobalResponse.redirect(url, status ?? 302);
  }

  /** As `Response.error()` (a platform Response). */
  static error(): globalThis.Response {
    return GlobalResponse.error();
  }

  /** The platform Response this one stands for, created on first need. */
  #materialise(): globalThis.Response {
    if (this.#real === undefined) {
      const parts = this[PARTS]!;
      this[PARTS] = undefined;
      this.#real = new GlobalResponse(parts.body, {
        status: parts.status,
        statusText: parts.statusText,
        headers: parts.headers,
      });
    }
    return this.#real;
  }

  get status(): number {
    return this[PARTS]?.status ?? this.#materialise().status;
  }
  get statusText(): string {
    return this[PARTS]?.statusText ?? this.#materialise().statusText;
  }
  get ok(): boolean {
    const status = this.status;
    return status >= 200 && status <= 299;
  }
  get type(): globalThis.Response['type'] {
    return 'default';
  }
  get url(): string {
    return '';
  }
  get redirected(): boolean {
    return false;
  }
  get headers(): Headers {
    return this.#materialise().headers;
  }
  get body(): ReadableStream<Uint8Array> | null {
    return this.#materialise().body;
  }
  get bodyUsed(): boolean {
    return this.#real?.bodyUsed ?? false;
  }
  arrayBuffer(): Promise<ArrayBuffer> {
    return this.#materialise().arrayBuffer();
  }
  blob(): Promise<Blob> {
    return this.#materialise().blob();
  }
  formData(): Promise<FormData> {
    return this.#materialise().formData();
  }
  json(): Promise<unknown> {
    return this.#materialise().json();
  }
  text(): Promise<string> {
    return this.#materialise().text();
  }
  bytes(): Promise<Uint8Array> {
    return this.#materialise()
      .arrayBuffer()
      .then((b) => new Uint8Array(b));
  }
  clone(): globalThis.Response {
    return this.#materialise().clone();
  }
  get [Symbol.toStringTag](): string {
    return 'Response';
  }
}

// `instanceof Response` holds, and anything the platform adds later is found through the chain.
Object.setPrototypeOf(FastResponse.prototype, GlobalResponse.prototype);

/**
 * @internal The parts of a greenhub Response nobody materialised yet, for the
 * server's fast path; undefined for anything else.
 */
export function fastParts(response: unknown): Parts | undefined {
  return (response as FastResponse)[PARTS];
}

// The platform keeps a Response's original body (a string or bytes) in its
// internal state, under a symbol described 'state' (undici). Reading it saves
// draining a web stream for the common `new Response('text')`. If a Node
// version stores it differently, the server simply reads the stream.
const stateKey: symbol | undefined = (() => {
  try {
    const probe = new GlobalResponse('x');
    const key = Object.getOwnPropertySymbols(probe).find((s) => s.description === 'state');
    const state = key && (probe as unknown as Record<symbol, { body?: { source?: unknown } }>)[key];
    return state?.body?.source === 'x' ? key : undefined;
  } catch {
    return undefined;
  }
})();

/**
 * @internal The string or bytes a platform Response was created with, when
 * its body was not read yet; undefined when only the stream will do.
 */
export function platformSource(response: globalThis.Response): string | Uint8Array | undefined {
  if (stateKey === undefined || response.bodyUsed) return undefined;
  const state = (response as unknown as Record<symbol, { body?: { source?: unknown } | null }>)[stateKey];
  const source = state?.body?.source;
  if (typeof source === 'string' || source instanceof Uint8Array) return source;
  return undefined;
}
