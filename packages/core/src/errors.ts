/**
 * Thrown into a greenlet to end it: the default error of `kill()`.
 *
 * A greenlet that ends with `GreenletExit` ended normally: `successful()` is
 * true and its `value` is the `GreenletExit` instance (gevent's semantics).
 *
 * @example
 * await g.kill();                      // throws GreenletExit inside g
 * g.value instanceof GreenletExit;     // true
 */
export class GreenletExit extends Error {
  override name = 'GreenletExit';
  constructor(message = 'greenlet killed') {
    super(message);
  }
}

/**
 * `run(main)` rejects with this when main waits on something that can no
 * longer happen: no referenced hub work is left and nothing else could wake it.
 * The message names what main was waiting for and every greenlet still alive.
 */
export class LoopExit extends Error {
  override name = 'LoopExit';
  readonly code = 'ERR_LOOP_EXIT';
}

/** Make an `Error` with a Node-style `code` string. */
export function codedError<E extends Error>(error: E, code: string): E & { code: string } {
  return Object.assign(error, { code });
}
