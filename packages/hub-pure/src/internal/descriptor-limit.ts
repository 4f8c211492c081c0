import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';

let softLimit: number | null | undefined;

/** The process's soft limit on open file descriptors, where the platform tells (Linux `/proc`); null elsewhere. */
export function openFileLimit(): number | null {
  if (softLimit === undefined) {
    try {
      const match = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
      softLimit = match ? Number(match[1]) : null;
    } catch {
      softLimit = null;
    }
  }
  return softLimit;
}

/**
 * True when `socket` took the last descriptor the limit allows.
 *
 * libuv never reports EMFILE on accept to Node: it frees a reserved
 * descriptor, accepts and closes the waiting connections, and carries on
 * silently. Descriptors are allocated lowest-first, so an accepted socket
 * numbered `limit - 1` means the table is full and further connections are
 * being dropped; this is the only sign of it Node's API leaves visible.
 */
export function tookLastDescriptor(socket: Socket): boolean {
  const limit = openFileLimit();
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return limit !== null && typeof fd === 'number' && fd >= limit - 1;
}
