import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { isIP, type Server } from 'node:net';

/**
 * `net.Server`'s bind-and-listen step, which Node runs synchronously.
 *
 * `server.listen({ host })` first resolves the host with `dns.lookup` on a
 * later tick, even a numeric one, so the public API cannot bind at once.
 * `_listen2` (Node's `setupListenHandle`, kept under that name for
 * compatibility since Node 0.x) binds and listens within the call; on failure
 * it leaves `_handle` null and schedules the error with `process.nextTick`.
 */
interface ListenInternals {
  _handle: unknown;
  _listen2(
    address: string | null,
    port: number,
    addressType: number,
    backlog: number,
    fd?: number,
    flags?: number,
  ): void;
}

/** libuv's `UV_TCP_IPV6ONLY` / `UV_TCP_REUSEPORT` bind flags. */
export const TCP_IPV6ONLY = 1;
export const TCP_REUSEPORT = 2;

/**
 * Bind and listen `server` on a numeric host and port, or on a unix path when
 * `port` is -1, before returning; throw the bind or listen error (`EADDRINUSE`,
 * `EACCES`, ...) instead of letting Node emit it on the next tick.
 */
export function listenNow(
  server: Server,
  address: string,
  port: number,
  backlog: number,
  flags: number,
): void {
  const internals = server as unknown as ListenInternals;
  if (typeof internals._listen2 !== 'function') {
    throw Object.assign(
      new Error(`@greenhub/hub-pure: this Node.js (${process.version}) has no net.Server#_listen2`),
      {
        code: 'ERR_NOT_SUPPORTED',
      },
    );
  }
  let failure: Error | null = null;
  const nextTick = process.nextTick;
  // Node reports the failure as nextTick(emitErrorNT, server, err): keep that
  // one error to throw now, let every other tick through untouched.
  process.nextTick = function capture(
    this: unknown,
    fn: (...args: unknown[]) => void,
    ...args: unknown[]
  ): void {
    if (failure === null && args[0] === server && args[1] instanceof Error) {
      failure = args[1];
      return;
    }
    nextTick.call(process, fn, ...args);
  } as typeof process.nextTick;
  try {
    if (port === -1) internals._listen2(address, -1, -1, backlog);
    else internals._listen2(address, port, isIP(address), backlog, undefined, flags);
  } finally {
    process.nextTick = nextTick;
  }
  if (failure !== null) throw failure;
  if (internals._handle == null)
    throw new Error(`listen failed on ${address}:${port} without an error from Node`);
}

/**
 * A UDP socket bound before returning.
 *
 * `dgram` binds once its `lookup` calls back; a lookup that calls back at once
 * (the host is already numeric) makes `bind()` bind inside the call and emit a
 * bind error synchronously, where it is caught and thrown.
 */
export function bindUdpNow(host: string, port: number): UdpSocket {
  const family = isIP(host) === 6 ? 6 : 4;
  const socket = createSocket({
    type: family === 6 ? 'udp6' : 'udp4',
    lookup: (address, _options, callback) => callback(null, address, family),
  });
  let failure: Error | null = null;
  const onError = (err: Error) => {
    failure = err;
  };
  socket.on('error', onError);
  // exclusive: bind here even in a cluster worker, as listen() does.
  socket.bind({ address: host, port, exclusive: true });
  socket.off('error', onError);
  if (failure !== null) {
    socket.close();
    throw failure;
  }
  return socket;
}
