import { getSystemErrorMap } from 'node:util';
import type { SocketAddress } from './stream.js';

/** An `Error` shaped like Node's own system errors (`code`, `errno`, `syscall`, `address`, `port`). */
export interface SystemError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
  address?: string;
  port?: number;
}

let messages: Map<string, string> | undefined;

function describe(code: string): { errno?: number; message?: string } {
  if (!messages) {
    messages = new Map();
    for (const [errno, [name, message]] of getSystemErrorMap()) {
      messages.set(name, `${errno}\u0000${message}`);
    }
  }
  const entry = messages.get(code);
  if (entry === undefined) return {};
  const [errno, message] = entry.split('\u0000');
  return { errno: Number(errno), message };
}

/**
 * Build an error the way Node reports a failed syscall, so that every hub
 * throws identical errors: `connect ECONNREFUSED 127.0.0.1:8080`.
 *
 * @param code Node's code string, such as `'ECONNREFUSED'`.
 * @param syscall What failed, such as `'connect'`.
 * @param where The address involved, if any.
 * @example throw systemError('EADDRINUSE', 'listen', { address: '127.0.0.1', port: 80, family: 'IPv4' })
 */
export function systemError(code: string, syscall: string, where?: Partial<SocketAddress>): SystemError {
  const { errno } = describe(code);
  let text = `${syscall} ${code}`;
  if (where?.address !== undefined) {
    text += where.port ? ` ${where.address}:${where.port}` : ` ${where.address}`;
  }
  const err = new Error(text) as SystemError;
  err.code = code;
  if (errno !== undefined) err.errno = errno;
  err.syscall = syscall;
  if (where?.address !== undefined) err.address = where.address;
  if (where?.port) err.port = where.port;
  return err;
}

/** The error a request gets when its handle was closed or it was cancelled first. */
export function canceledError(syscall: string): SystemError {
  return systemError('ECANCELED', syscall);
}

/** Thrown by every method of a hub (or hub object) used after `close()`. */
export function hubClosedError(what = 'hub'): SystemError {
  const err = new Error(`${what} is closed: create a new one (resetHub() then getHub())`) as SystemError;
  err.code = 'ERR_HUB_CLOSED';
  return err;
}

/** Thrown for a host that is not a numeric IP address where a hub needs one. */
export function invalidAddressError(host: string): SystemError {
  const err = new TypeError(
    `Invalid IP address: ${host} (hubs take numeric addresses; resolve names first with @greenhub/net's resolve())`,
  ) as unknown as SystemError;
  err.code = 'ERR_INVALID_IP_ADDRESS';
  return err;
}
