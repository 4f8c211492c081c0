import dns from 'node:dns';
import type { SocketAddress, WaitOptions } from '@greenhub/core';
import { Waiter } from '@greenhub/core';

/**
 * Look `host` up with getaddrinfo (node:dns `lookup`, in Node's threadpool;
 * respects /etc/hosts and nsswitch). An interrupted wait returns at once; the
 * getaddrinfo call itself cannot be stopped, its result is discarded.
 */
export async function resolveSystem(
  host: string,
  family: 0 | 4 | 6,
  opts: WaitOptions,
): Promise<SocketAddress[]> {
  const waiter = new Waiter<SocketAddress[]>('dns resolve');
  dns.lookup(host, { family, all: true }, (err, addresses) => {
    if (err) waiter.throw(err);
    else
      waiter.switch(
        addresses.map((a) => ({ address: a.address, port: 0, family: a.family === 6 ? 'IPv6' : 'IPv4' })),
      );
  });
  return waiter.get(opts);
}
