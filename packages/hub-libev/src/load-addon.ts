/**
 * Loads the native addon (build/Release/hub_libev.node) and describes its
 * shape. When the addon is missing or cannot load, this throws one
 * multi-line error with code `ERR_HUB_UNAVAILABLE` at module load time, so
 * that core's hub registry can say why the libev hub is unavailable.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SocketAddress } from '@greenhub/core';

/** A JS status from native code: 0 for success, `-errno` for a failed syscall. */
export type Status = number;

interface NativeWatcher {
  readonly active: boolean;
  ref(): void;
  unref(): void;
}

export interface NativeTimer extends NativeWatcher {
  start(afterMs: number, repeatMs: number): void;
  stop(): void;
  /** Unique in this environment, never 0: names the timer in the shared slots. */
  readonly id: number;
  ontimeout?: () => void;
}

export interface NativeIdle extends NativeWatcher {
  start(): void;
  stop(): void;
  onidle?: () => boolean;
}

export interface NativeStream extends NativeWatcher {
  readonly queued: number;
  /** 0 connected at once, 1 in progress (`onconnect` follows), `-errno` failed. */
  connect(kind: 'tcp', host: string, port: number): Status;
  connect(kind: 'unix', path: string): Status;
  /** The number this stream goes by in `readBatch` (set once, before the first `readStart()`). */
  setSlot(slot: number): void;
  readStart(): void;
  readStop(): void;
  /** 0 all in the kernel, 1 queued (`onwrite` follows), `-errno` failed. */
  write(data: Uint8Array | readonly Uint8Array[]): Status;
  /** 0 done, 1 pending (`onshutdown` follows), `-errno` failed. */
  shutdown(): Status;
  close(): void;
  setNoDelay(on: boolean): void;
  setKeepAlive(on: boolean, delaySeconds: number): void;
  localAddress(): SocketAddress | undefined;
  remoteAddress(): SocketAddress | undefined;
  onconnect?: (status: Status) => void;
  onwrite?: (count: number, status: Status) => void;
  onshutdown?: (status: Status) => void;
}

export interface NativeListener extends NativeWatcher {
  listen(
    kind: 'tcp',
    host: string,
    port: number,
    backlog: number,
    reusePort: boolean,
    ipv6Only: boolean,
  ): Status;
  listen(kind: 'unix', path: string, port: 0, backlog: number): Status;
  start(): void;
  stop(): void;
  close(): void;
  address(): SocketAddress | undefined;
  onconnection?: (fds: number[]) => void;
  onerror?: (status: Status) => void;
}

export interface NativeUdp extends NativeWatcher {
  bind(host: string, port: number): Status;
  recvStart(): void;
  recvStop(): void;
  /** 0 sent, 1 queued (`onsend` follows), `-errno` failed. */
  send(data: Uint8Array, host: string, port: number): Status;
  close(): void;
  address(): SocketAddress | undefined;
  /** The datagrams of one readiness, listed in `udpBatch` (see udp.ts). */
  onmessages?: (count: number) => void;
  onsend?: (status: Status) => void;
}

/** The addon's exports: one libev loop per Node environment, and its object classes. */
export interface Addon {
  readonly backend: string;
  now(): number;
  updateNow(): void;
  idleTime(): number;
  counts(): { active: number; referenced: number };
  setNaive(on: boolean): void;
  /** Lends the timer layer's shared slots (a Float64Array of 4) to native code; see timer.ts. */
  shareTimerSlots(slots: Float64Array): void;
  /**
   * Callbacks shared by every Stream: `onwrite` and `onshutdown` are called with the native stream
   * as `this` (instead of its own `on...` property); `onreads(count)` is handed the first `count`
   * entries of `readBatch`, the reads of every stream since the last call.
   */
  setCallbacks(
    callbacks: Pick<NativeStream, 'onwrite' | 'onshutdown'> & { onreads: (count: number) => void },
  ): void;
  /** Where every stream's reads land, until `onreads` returns (copy them out). */
  readonly readSlab: ArrayBuffer;
  /**
   * The reads `onreads(count)` hands over, as Int32 triples: the stream's slot (-1: it closed since),
   * the offset in `readSlab`, and the result (bytes read; 0 end of stream; `-errno`).
   */
  readonly readBatch: ArrayBuffer;
  /** Where a UDP socket's datagrams land before `onmessages(count)` hands them over. */
  readonly udpSlab: ArrayBuffer;
  /**
   * Int32 entries of 6 per datagram in `udpSlab`: offset, length, family (4 or 6), port, then
   * the IPv4 address's 4 bytes, or the offset and length of the IPv6 address's text in the slab.
   */
  readonly udpBatch: ArrayBuffer;
  Timer: new () => NativeTimer;
  Idle: new () => NativeIdle;
  Stream: new (fd?: number) => NativeStream;
  Listener: new () => NativeListener;
  Udp: new () => NativeUdp;
}

const SOLUTIONS =
  'Possible solutions: apt-get install libev-dev (Debian/Ubuntu) or brew install libev; ' +
  'then npm rebuild @greenhub/hub-libev; or use GREENHUB_HUB=pure';

function packageRoot(): string {
  // dist/index.(c)js and src/load-addon.ts both sit one level below the package root.
  return join(dirname(fileURLToPath(import.meta.url)), '..');
}

function unavailable(reason: string, cause?: unknown): Error {
  const err = new Error(`@greenhub/hub-libev is unavailable: ${reason}\n${SOLUTIONS}`, { cause }) as Error & {
    code: string;
  };
  err.code = 'ERR_HUB_UNAVAILABLE';
  return err;
}

function load(): Addon {
  const root = packageRoot();
  const file = join(root, 'build', 'Release', 'hub_libev.node');
  if (!existsSync(file)) {
    let reason = 'native addon not built';
    try {
      const status = readFileSync(join(root, 'build', 'status.txt'), 'utf8').trim();
      if (status && status !== 'built') reason = status;
    } catch {
      reason = 'native addon not built — the install step did not run (npm rebuild @greenhub/hub-libev)';
    }
    throw unavailable(reason);
  }
  try {
    return createRequire(import.meta.url)(file) as Addon;
  } catch (cause) {
    const message = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    throw unavailable(
      `native addon failed to load (${message}); is the libev runtime (libev4) installed?`,
      cause,
    );
  }
}

/** The addon of this environment (main thread or Worker). */
export const addon: Addon = load();
