import { isIP } from 'node:net';
import { resolve } from '../resolve.js';

/** @internal Map `'localhost'` to `'127.0.0.1'`; keep IP literals; anything else is a name to resolve. */
export function literalHost(host: string): string | undefined {
  if (host === 'localhost') return '127.0.0.1';
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return isIP(bare) !== 0 ? bare : undefined;
}

/**
 * @internal Resolve a host name to one numeric address through the configured
 * resolver (`GREENHUB_RESOLVER`: getaddrinfo or c-ares), waiting cooperatively.
 */
export async function lookupHost(
  host: string,
  timeout: number | undefined,
  signal: AbortSignal | undefined,
): Promise<string> {
  const [first] = await resolve(host, { timeout, signal });
  if (!first) {
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND', hostname: host });
  }
  return first.address;
}
