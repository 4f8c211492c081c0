import type { SocketAddress } from '@greenhub/core';
import { Group, Pool } from '@greenhub/sync';

/** How a server runs its handlers: through a Pool, a Group, or a new `Pool(n)`. */
export type ServerSpawn = Pool | Group | number;

/** The first accept/receive back-off delay, in ms (gevent's `min_delay`). */
export const SERVER_MIN_DELAY = 10;
/** The longest accept/receive back-off delay, in ms (gevent's `max_delay`). */
export const SERVER_MAX_DELAY = 1000;
/** Accepts (or datagrams) per wake-up by default (gevent's `max_accept`). */
export const SERVER_MAX_ACCEPT = 100;
/** Default of `stop(timeout)`, in ms (gevent's `stop_timeout`). */
export const SERVER_STOP_TIMEOUT = 1000;

/** Errors after which the listening socket is unusable (gevent's `fatal_errors`). */
export const FATAL_ACCEPT_ERRORS: ReadonlySet<string> = new Set(['EBADF', 'EINVAL', 'ENOTSOCK']);

/** Turn the `spawn` option into the Pool or Group handlers run in. */
export function spawnerOf(spawn: ServerSpawn | undefined): Pool | Group {
  if (spawn === undefined) return new Group();
  if (typeof spawn === 'number') return new Pool(spawn);
  if (spawn instanceof Group) return spawn;
  throw Object.assign(new TypeError(`spawn must be a Pool, a Group or a pool size, got ${String(spawn)}`), {
    code: 'ERR_INVALID_ARG_TYPE',
  });
}

/** Check `maxAccept`: a positive integer. */
export function checkMaxAccept(maxAccept: number | undefined): number {
  const value = maxAccept ?? SERVER_MAX_ACCEPT;
  if (Number.isInteger(value) && value >= 1) return value;
  throw Object.assign(new RangeError(`maxAccept must be a positive integer, got ${String(maxAccept)}`), {
    code: 'ERR_OUT_OF_RANGE',
  });
}

/** `127.0.0.1:5555`, `[::1]:5555`, or a unix path. */
export function formatAddress(address: SocketAddress): string {
  if (address.family === 'unix') return address.address || 'unix';
  if (address.family === 'IPv6') return `[${address.address}]:${address.port}`;
  return `${address.address}:${address.port}`;
}

/** The error code of `err`, if any. */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
