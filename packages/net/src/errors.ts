/**
 * Errors raised by greenhub sockets and listeners. Every error carries a
 * stable `code`.
 */

/**
 * Thrown by `Socket.readExactly()` (and `readUntil()`) when the peer ends the
 * stream before enough bytes arrived; code `'ERR_INCOMPLETE_READ'`.
 *
 * @example
 * try { await sock.readExactly(4); }
 * catch (err) { if (err instanceof IncompleteRead) console.log(err.partial.length, 'of', err.expected); }
 */
export class IncompleteRead extends Error {
  override name = 'IncompleteRead';
  /** Always `'ERR_INCOMPLETE_READ'`. */
  readonly code = 'ERR_INCOMPLETE_READ';
  /** The bytes that did arrive before end of stream. */
  readonly partial: Uint8Array;
  /** How many bytes were expected (for `readUntil`: the partial length plus the delimiter's). */
  readonly expected: number;

  /**
   * @param partial the bytes read before end of stream.
   * @param expected how many bytes were wanted.
   */
  constructor(partial: Uint8Array, expected: number) {
    super(`incomplete read: ${partial.length} bytes read, ${expected} expected before end of stream`);
    this.partial = partial;
    this.expected = expected;
  }
}

/**
 * Thrown when a second greenlet reads (or writes, or accepts on a socket that
 * only allows one) while another is already blocked doing so; code
 * `'ERR_CONCURRENT_USE'`.
 *
 * @example
 * spawn(() => sock.read());
 * await sock.read(); // rejects with ConcurrentUse
 */
export class ConcurrentUse extends Error {
  override name = 'ConcurrentUse';
  /** Always `'ERR_CONCURRENT_USE'`. */
  readonly code = 'ERR_CONCURRENT_USE';
}

/** An `Error` with a Node-style `code` string. */
export type CodedError = Error & { code: string };

/**
 * The error a blocked or later operation gets once the socket (or listener)
 * was closed; code `'ERR_SOCKET_CLOSED'`.
 *
 * @param what what was going on, e.g. `'read'`.
 * @returns a new Error with `code: 'ERR_SOCKET_CLOSED'`.
 * @example throw socketClosedError('read');
 */
export function socketClosedError(what = 'use'): CodedError {
  return Object.assign(new Error(`socket closed (${what})`), { code: 'ERR_SOCKET_CLOSED' });
}

/**
 * The error `Socket.readUntil()` / `readLine()` throw when no delimiter was
 * found within `maxBytes`; code `'ERR_LIMIT_OVERRUN'`. The buffered bytes stay
 * unread.
 *
 * @param maxBytes the limit that was reached.
 * @returns a new RangeError with `code: 'ERR_LIMIT_OVERRUN'`.
 * @example throw limitOverrunError(65536);
 */
export function limitOverrunError(maxBytes: number): CodedError {
  return Object.assign(new RangeError(`delimiter not found within ${maxBytes} bytes`), {
    code: 'ERR_LIMIT_OVERRUN',
  });
}
