import { isIP } from 'node:net';
import { getSystemErrorName } from 'node:util';
import { invalidAddressError, type SocketAddress, type SystemError, systemError } from '@greenhub/core';

/** Node's error for a native status (`-errno`): `connect ECONNREFUSED 127.0.0.1:1234`. */
export function statusError(status: number, syscall: string, where?: Partial<SocketAddress>): SystemError {
  let code: string;
  try {
    code = getSystemErrorName(status);
  } catch {
    code = `E${-status}`;
  }
  return systemError(code, syscall, where);
}

/** The family of a numeric host, or an `ERR_INVALID_IP_ADDRESS` error. */
export function ipFamily(host: string): 'IPv4' | 'IPv6' {
  const version = isIP(host);
  if (version === 4) return 'IPv4';
  if (version === 6) return 'IPv6';
  throw invalidAddressError(host);
}

/** What a native object reports when a handle was closed under it. */
export function invalidStateError(message: string): SystemError {
  const err = new Error(message) as SystemError;
  err.code = 'ERR_INVALID_STATE';
  return err;
}
