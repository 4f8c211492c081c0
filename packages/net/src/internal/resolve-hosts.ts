import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { SocketAddress } from '@greenhub/core';

/** The hosts file the 'ares' resolver consults before asking DNS. */
export function hostsPath(): string {
  if (process.platform === 'win32') {
    return join(process.env.SystemRoot ?? 'C:\\Windows', 'System32', 'drivers', 'etc', 'hosts');
  }
  return '/etc/hosts';
}

let cache: { path: string; mtimeMs: number; size: number; map: Map<string, SocketAddress[]> } | undefined;

/** Parse hosts-file text into lower-cased name → addresses, in file order. */
export function parseHosts(text: string): Map<string, SocketAddress[]> {
  const map = new Map<string, SocketAddress[]>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const [address, ...names] = line.split(/\s+/);
    const v = isIP(address!.replace(/%.*/, ''));
    if (v === 0) continue;
    for (const name of names) {
      const key = name.toLowerCase();
      const list = map.get(key) ?? [];
      if (!list.some((a) => a.address === address)) {
        list.push({ address: address!, port: 0, family: v === 6 ? 'IPv6' : 'IPv4' });
      }
      map.set(key, list);
    }
  }
  return map;
}

/**
 * The addresses the hosts file gives `host` (case-insensitive), re-read when
 * the file changes; `undefined` if it has no entry (or cannot be read).
 */
export function lookupHosts(host: string, path = hostsPath()): SocketAddress[] | undefined {
  try {
    const st = statSync(path);
    if (!cache || cache.path !== path || cache.mtimeMs !== st.mtimeMs || cache.size !== st.size) {
      cache = { path, mtimeMs: st.mtimeMs, size: st.size, map: parseHosts(readFileSync(path, 'utf8')) };
    }
  } catch {
    return undefined;
  }
  return cache.map.get(host.toLowerCase().replace(/\.$/, ''));
}
