import {
  getHub,
  type Listener as HubListener,
  type SocketAddress,
  type Stream,
  Waiter,
} from '@greenhub/core';
import { type CodedError, socketClosedError } from './errors.js';
import { literalHost } from './internal/socket-host.js';
import { Socket } from './socket.js';

/** Options of {@link listen}: TCP on `host` (default `'127.0.0.1'`) and `port` (default 0 = any free port), or a unix `path`. */
export type SocketListenOptions =
  | { host?: string; port?: number; backlog?: number; reusePort?: boolean }
  | { path: string; backlog?: number };

function listenerClosedError(): CodedError {
  const err = socketClosedError('listener');
  err.message = 'listener closed while accept() waited';
  return err;
}

/**
 * A listening TCP or unix socket. `accept()` waits cooperatively for the next
 * connection; several greenlets may accept at once (first come, first served).
 * The hub only accepts while someone waits in `accept()`; otherwise the
 * kernel queues connections up to the backlog.
 *
 * @example
 * using listener = listen({ port: 0 });
 * for await (const sock of listener) spawn(handle, sock);
 */
export class Listener implements AsyncIterable<Socket>, Disposable {
  /** Where the listener is bound (the port is known even when 0 was asked for). */
  readonly address: SocketAddress;
  readonly #hub: HubListener;
  readonly #ready: Stream[] = [];
  readonly #waiters: Waiter<Stream>[] = [];
  #started = false;
  #closed = false;

  /**
   * Wrap a hub listener; prefer {@link listen}.
   *
   * @param hubListener a bound, not yet started hub listener; owned from now on.
   */
  constructor(hubListener: HubListener) {
    this.#hub = hubListener;
    this.address = hubListener.address;
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  #onConnection = (stream: Stream): void => {
    if (this.#closed) {
      stream.close();
      return;
    }
    for (;;) {
      const waiter = this.#waiters.shift();
      if (!waiter) break;
      if (waiter.switch(stream)) {
        this.#pauseIfIdle();
        return;
      }
    }
    this.#ready.push(stream);
    this.#pauseIfIdle();
  };

  #onError = (err: Error): void => {
    const waiter = this.#waiters.shift();
    if (waiter) waiter.throw(err);
    this.#pauseIfIdle();
  };

  #pauseIfIdle(): void {
    if (this.#started && this.#waiters.length === 0) {
      this.#started = false;
      this.#hub.stop();
    }
  }

  /**
   * Wait for the next connection.
   *
   * @param opts.timeout give up after this many ms; `opts.signal` aborts the wait.
   * @returns the accepted socket, already reading into its buffer.
   * @throws `ERR_SOCKET_CLOSED` if the listener is (or gets) closed; accept
   *   errors such as `EMFILE`; `Timeout` when `timeout` runs out.
   * @example
   * const sock = await listener.accept();
   */
  async accept(opts?: { timeout?: number; signal?: AbortSignal }): Promise<Socket> {
    if (this.#closed) throw listenerClosedError();
    const queued = this.#ready.shift();
    if (queued) return new Socket(queued);
    const waiter = new Waiter<Stream>('accept');
    this.#waiters.push(waiter);
    if (!this.#started) {
      this.#started = true;
      this.#hub.start(this.#onConnection, this.#onError);
    }
    try {
      return new Socket(await waiter.get(opts));
    } finally {
      const at = this.#waiters.indexOf(waiter);
      if (at >= 0) this.#waiters.splice(at, 1);
      if (!this.#closed) this.#pauseIfIdle();
    }
  }

  /**
   * Accept connections until the listener is closed (then the loop ends quietly).
   *
   * @returns an async iterator of accepted sockets.
   * @throws accept errors other than the listener being closed.
   * @example
   * for await (const sock of listener) spawn(serve, sock);
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<Socket, void, undefined> {
    for (;;) {
      let sock: Socket;
      try {
        sock = await this.accept();
      } catch (err) {
        if (this.#closed && (err as { code?: unknown }).code === 'ERR_SOCKET_CLOSED') return;
        throw err;
      }
      yield sock;
    }
  }

  /**
   * Stop listening and release the port (a unix path is left in place).
   * Greenlets blocked in `accept()` wake with `ERR_SOCKET_CLOSED`;
   * connections accepted but not yet handed out are closed. Idempotent.
   *
   * @example
   * listener.close();
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#started = false;
    this.#hub.close();
    for (const stream of this.#ready.splice(0)) stream.close();
    for (const waiter of this.#waiters.splice(0)) waiter.throw(listenerClosedError());
  }

  /** Close the listener (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Bind and listen, synchronously: the returned listener's `address` is known at once.
 *
 * @param opts TCP `host` (IP literal or `'localhost'`, default `'127.0.0.1'`),
 *   `port` (default 0 = any free port), `backlog`; or a unix `path`.
 * @returns the listener.
 * @throws `EADDRINUSE`, `EACCES`...; `ERR_INVALID_IP_ADDRESS` for a host that is not an IP literal.
 * @example
 * const listener = listen({ port: 0 });
 * console.log(listener.address.port);
 */
export function listen(opts: SocketListenOptions = {}): Listener {
  const hub = getHub();
  if ('path' in opts) {
    return new Listener(hub.listen({ path: opts.path, backlog: opts.backlog }));
  }
  const host = opts.host ?? '127.0.0.1';
  return new Listener(
    hub.listen({
      host: literalHost(host) ?? host,
      port: opts.port ?? 0,
      backlog: opts.backlog,
      reusePort: opts.reusePort,
    }),
  );
}
