import { isIP } from 'node:net';
import type { SocketAddress, WaitOptions } from '@greenhub/core';
import { getSettings } from '@greenhub/core';
import { resolveAres } from './internal/resolve-ares.js';
import { resolveSystem } from './internal/resolve-system.js';

/** Options of {@link resolve}. */
export interface ResolveOptions extends WaitOptions {
  /** Only IPv4 (4) or only IPv6 (6) addresses; default both. */
  family?: 4 | 6;
  /** Return every address found (default false: only the first). */
  all?: boolean;
}

/**
 * Resolve a host name to addresses through the configured resolver
 * (`configure({ resolver })` / `GREENHUB_RESOLVER`, read at each call):
 * `'system'` is getaddrinfo via node:dns `lookup` (respects /etc/hosts and
 * nsswitch); `'ares'` is c-ares via a node:dns `Resolver`, after consulting
 * the hosts file first (as gevent's ares resolver does) and answering
 * `localhost` names with loopback. A numeric host is returned as is, without
 * a lookup. The wait is interrupted at once by `kill()`, `Timeout` and
 * `signal`; c-ares queries are then cancelled, a getaddrinfo call runs to its
 * end in the threadpool and its result is discarded.
 *
 * @param host A name or a numeric IPv4/IPv6 address.
 * @param opts `family`, `all`, `timeout`, `signal`.
 * @returns one address (or all with `all: true`), each `{ address, port: 0, family }`.
 * @throws an error with Node's `code` (`ENOTFOUND`, `EAI_AGAIN`, `ECONNREFUSED`...);
 *   `Timeout`; `signal.reason`; the error of a `kill()`; `ERR_INVALID_ARG_VALUE` for an empty host.
 * @example
 * const [{ address }] = await resolve('localhost', { family: 4, timeout: 2000 });
 */
export async function resolve(host: string, opts: ResolveOptions = {}): Promise<SocketAddress[]> {
  if (typeof host !== 'string' || host === '') {
    throw Object.assign(new TypeError(`host must be a non-empty string, got ${JSON.stringify(host)}`), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
  }
  const family = opts.family ?? 0;
  if (family !== 0 && family !== 4 && family !== 6) {
    throw Object.assign(new TypeError(`family must be 4 or 6, got ${String(opts.family)}`), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
  }
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const v = isIP(bare);
  if (v !== 0) return [{ address: bare, port: 0, family: v === 6 ? 'IPv6' : 'IPv4' }];
  const wait: WaitOptions = { timeout: opts.timeout, signal: opts.signal };
  const found =
    getSettings().resolver === 'ares'
      ? await resolveAres(host, family, wait)
      : await resolveSystem(host, family, wait);
  return opts.all ? found : found.slice(0, 1);
}
