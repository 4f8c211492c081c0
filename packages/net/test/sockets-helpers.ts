import { readFileSync } from 'node:fs';
import { spawn } from '@greenhub/core';
import { connect } from '../src/connect.js';
import { listen } from '../src/listener.js';
import type { Socket } from '../src/socket.js';

/** A connected pair over 127.0.0.1: [client, server]. The listener is already closed. */
export async function socketPair(): Promise<[Socket, Socket]> {
  const listener = listen({ port: 0 });
  try {
    const acc = spawn(() => listener.accept());
    const client = await connect({ port: listener.address.port });
    const server = await acc.get();
    return [client, server];
  } finally {
    listener.close();
  }
}

/** Settle a promise into its error (or undefined). */
export async function caught(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (err: unknown) => err,
  );
}

export const text = (bytes: Uint8Array | null): string | null =>
  bytes === null ? null : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');

/**
 * More bytes than the kernel can hold for one loopback connection whose reader has stopped: the
 * sender's largest send buffer plus the receiver's largest receive buffer (both grow by
 * autotuning), plus 1 MiB for what the hubs buffer themselves. A write this big stays in flight
 * until the peer reads, however much time passes.
 */
export function moreThanKernelBuffers(): number {
  const largest = (file: string): number | undefined => {
    try {
      const max = Number(readFileSync(file, 'utf8').trim().split(/\s+/).at(-1));
      return Number.isSafeInteger(max) && max > 0 ? max : undefined;
    } catch {
      return undefined;
    }
  };
  const send = largest('/proc/sys/net/ipv4/tcp_wmem') ?? 32 * 1024 * 1024;
  const receive = largest('/proc/sys/net/ipv4/tcp_rmem') ?? 32 * 1024 * 1024;
  return send + receive + 1024 * 1024;
}
