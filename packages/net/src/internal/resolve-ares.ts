import dns from 'node:dns';
import type { SocketAddress, WaitOptions } from '@greenhub/core';
import { Waiter } from '@greenhub/core';
import { lookupHosts } from './resolve-hosts.js';

let servers: string[] | undefined;

/**
 * Test hook: the DNS servers new 'ares' lookups use (`undefined` = the
 * system's, from resolv.conf). Lets tests point c-ares at a local fake server.
 */
export function setAresServers(list: string[] | undefined): void {
  servers = list;
}

const LOOPBACK: Record<4 | 6, SocketAddress> = {
  4: { address: '127.0.0.1', port: 0, family: 'IPv4' },
  6: { address: '::1', port: 0, family: 'IPv6' },
};

function notFound(host: string, cause: NodeJS.ErrnoException | undefined): Error {
  const syscall = cause?.syscall ?? 'query';
  return Object.assign(new Error(`${syscall} ENOTFOUND ${host}`), {
    code: 'ENOTFOUND',
    syscall,
    hostname: host,
    cause,
  });
}

/**
 * Resolve `host` with c-ares (a node:dns `Resolver` per call): first the hosts
 * file (c-ares' queries ignore it), then `localhost` names (RFC 6761), then A
 * and/or AAAA queries. An interrupted wait cancels the queries.
 */
export async function resolveAres(
  host: string,
  family: 0 | 4 | 6,
  opts: WaitOptions,
): Promise<SocketAddress[]> {
  const wanted: (4 | 6)[] = family === 0 ? [4, 6] : [family];
  const fromHosts = lookupHosts(host)?.filter((a) => wanted.includes(a.family === 'IPv6' ? 6 : 4));
  if (fromHosts && fromHosts.length > 0) return fromHosts;
  const lower = host.toLowerCase().replace(/\.$/, '');
  if (lower === 'localhost' || lower.endsWith('.localhost')) return wanted.map((f) => ({ ...LOOPBACK[f] }));

  const resolver = new dns.Resolver();
  if (servers) resolver.setServers(servers);
  const waiter = new Waiter<SocketAddress[]>('dns resolve');
  const results: (SocketAddress[] | undefined)[] = [];
  const errors: NodeJS.ErrnoException[] = [];
  let pending = wanted.length;
  const done = (): void => {
    if (--pending > 0) return;
    const found = results.flatMap((r) => r ?? []);
    if (found.length > 0) waiter.switch(found);
    else if (errors.every((e) => e.code === 'ENOTFOUND' || e.code === 'ENODATA'))
      waiter.throw(notFound(host, errors[0]));
    else waiter.throw(errors.find((e) => e.code !== 'ENOTFOUND' && e.code !== 'ENODATA') ?? errors[0]);
  };
  wanted.forEach((f, i) => {
    const cb = (err: NodeJS.ErrnoException | null, addresses: string[]): void => {
      if (err) errors.push(err);
      else results[i] = addresses.map((address) => ({ address, port: 0, family: f === 6 ? 'IPv6' : 'IPv4' }));
      done();
    };
    if (f === 4) resolver.resolve4(host, cb);
    else resolver.resolve6(host, cb);
  });
  try {
    return await waiter.get(opts);
  } finally {
    if (!waiter.ready || pending > 0) resolver.cancel();
  }
}
