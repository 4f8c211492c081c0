import { isIP } from 'node:net';
import type { SocketAddress } from '@greenhub/core';

/** The family of a numeric address, as `SocketAddress.family` spells it. */
export function ipFamily(address: string): 'IPv4' | 'IPv6' {
  return isIP(address) === 6 ? 'IPv6' : 'IPv4';
}

/** A TCP or UDP endpoint from what Node reports (`address()`, `rinfo`, `remoteAddress`). */
export function ipAddress(address: string | undefined, port: number | undefined): SocketAddress {
  const host = address ?? '';
  return { address: host, port: port ?? 0, family: ipFamily(host) };
}

/** A unix-socket endpoint: the path, port 0. */
export function unixAddress(path: string): SocketAddress {
  return { address: path, port: 0, family: 'unix' };
}

/** How an endpoint reads in names and messages: `127.0.0.1:80`, `[::1]:80`, `/tmp/s.sock`. */
export function formatAddress(where: SocketAddress): string {
  if (where.family === 'unix') return where.address;
  return where.family === 'IPv6' ? `[${where.address}]:${where.port}` : `${where.address}:${where.port}`;
}
