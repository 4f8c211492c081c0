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
