import type { Duplex } from 'node:stream';
import { canceledError, hubClosedError, type SocketAddress, type Stream, systemError } from '@greenhub/core';

/** What a {@link DuplexStream} cannot learn from the Duplex itself: addresses, options, extra cleanup. */
export interface DuplexStreamHooks {
  /** This end's address (default: none known). */
  localAddress?: SocketAddress;
  /** The peer's address (default: none known). */
  remoteAddress?: SocketAddress;
  /** Called by `setNoDelay()` (default: nothing). */
  setNoDelay?: (on: boolean) => void;
  /** Called by `setKeepAlive()` (default: nothing). */
  setKeepAlive?: (on: boolean, delayMs?: number) => void;
  /** Called once by `close()`, after the Duplex is destroyed (e.g. to close the transport underneath). */
  onClose?: () => void;
}

/** How long `close()` lets writes already handed to the Duplex finish before destroying it. */
export const LINGER_MS = 1000;

const NO_ADDRESS: SocketAddress = { address: '', port: 0, family: 'IPv4' };

type OnRead = (chunk: Uint8Array | null, err?: Error) => void;

interface PendingWrite {
  cb: ((err: Error | null) => void) | undefined;
  bytes: number;
  done: boolean;
}

/**
 * @internal The hub `Stream` contract on top of a Node `Duplex` (a
 * `tls.TLSSocket`, a `net.Socket`...), so that a greenhub `Socket` can wrap it.
 *
 * `readStart` → `'data'` + `resume()`, `readStop` → `pause()`; `'end'` is
 * `onRead(null)`, `'error'` is `onRead(null, err)` (kept until reading starts
 * if it came while stopped); `write(cb)` calls `cb` exactly once (`ECANCELED`
 * after `close()`); `shutdown` → `end()`; `close` → `destroy()`.
 */
export class DuplexStream implements Stream {
  readonly #duplex: Duplex;
  readonly #hooks: DuplexStreamHooks;
  #onRead: OnRead | undefined;
  #listening = false;
  #stash: Uint8Array[] = [];
  #terminal: { err: Error | undefined } | undefined;
  #terminalDelivered = false;
  #closed = false;
  #queued = 0;
  readonly #pending = new Set<PendingWrite>();
  /** Writes handed to the Duplex whose Node callback has not run yet (even after close). */
  #inFlight = 0;
  #lingering: (() => void) | undefined;

  /**
   * @param duplex the stream to drive; owned from now on (`close()` destroys it).
   * @param hooks addresses, socket options and extra cleanup the Duplex does not provide.
   */
  constructor(duplex: Duplex, hooks: DuplexStreamHooks = {}) {
    this.#duplex = duplex;
    this.#hooks = hooks;
    duplex.on('end', () => this.#end(undefined));
    duplex.on('error', (err: Error) => this.#end(err));
    duplex.on('close', () => {
      if (!this.#terminal) this.#end(systemError('ECONNRESET', 'read'));
    });
  }

  #onData = (chunk: Buffer | string): void => {
    if (this.#closed) return;
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    if (this.#onRead) this.#onRead(bytes);
    else this.#stash.push(bytes);
  };

  #end(err: Error | undefined): void {
    if (this.#terminal || this.#closed) return;
    this.#terminal = { err };
    if (this.#onRead && this.#stash.length === 0) this.#deliverTerminal();
  }

  #deliverTerminal(): void {
    const onRead = this.#onRead;
    const terminal = this.#terminal;
    if (!onRead || !terminal || this.#terminalDelivered || this.#closed) return;
    this.#terminalDelivered = true;
    this.#onRead = undefined;
    if (terminal.err) onRead(null, terminal.err);
    else onRead(null);
  }

  readStart(onRead: OnRead): void {
    if (this.#closed) throw hubClosedError('stream');
    this.#onRead = onRead;
    if (this.#stash.length > 0 || this.#terminal) {
      // Deliver what came while stopped from a later turn, never from inside readStart().
      process.nextTick(() => {
        while (this.#onRead === onRead && this.#stash.length > 0) onRead(this.#stash.shift()!);
        if (this.#onRead === onRead && this.#stash.length === 0) this.#deliverTerminal();
        if (this.#onRead === onRead && !this.#terminal) this.#duplex.resume();
      });
      if (!this.#listening) {
        this.#listening = true;
        this.#duplex.pause();
        this.#duplex.on('data', this.#onData);
      }
      return;
    }
    if (!this.#listening) {
      this.#listening = true;
      this.#duplex.on('data', this.#onData);
    }
    this.#duplex.resume();
  }

  readStop(): void {
    this.#onRead = undefined;
    if (!this.#closed) this.#duplex.pause();
  }

  write(data: Uint8Array | readonly Uint8Array[], cb?: (err: Error | null) => void): void {
    if (this.#closed) throw hubClosedError('stream');
    // Copy: the caller may reuse its buffers once write() returns.
    const bytes = Array.isArray(data)
      ? Buffer.concat(data as readonly Uint8Array[])
      : Buffer.from(data as Uint8Array);
    const entry: PendingWrite = { cb, bytes: bytes.length, done: false };
    this.#pending.add(entry);
    this.#queued += bytes.length;
    this.#inFlight++;
    this.#duplex.write(bytes, (err?: Error | null) => {
      this.#inFlight--;
      this.#settle(entry, err ?? null);
      if (this.#inFlight === 0) this.#lingering?.();
    });
  }

  #settle(entry: PendingWrite, err: Error | null): void {
    if (entry.done) return;
    entry.done = true;
    this.#pending.delete(entry);
    this.#queued -= entry.bytes;
    entry.cb?.(err);
  }

  get writeQueueSize(): number {
    return this.#queued;
  }

  shutdown(cb?: (err: Error | null) => void): void {
    if (this.#closed) throw hubClosedError('stream');
    const entry: PendingWrite = { cb, bytes: 0, done: false };
    this.#pending.add(entry);
    this.#duplex.end(() => this.#settle(entry, null));
    // end()'s callback is not called on error in every Node version: settle from the events too.
    const onError = (err: Error): void => this.#settle(entry, err);
    this.#duplex.once('error', onError);
    this.#duplex.once('finish', () => {
      this.#duplex.off('error', onError);
      setImmediate(() => this.#settle(entry, null));
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onRead = undefined;
    this.#stash = [];
    const pending = [...this.#pending];
    this.#pending.clear();
    this.#queued = 0;
    for (const entry of pending) entry.done = true;
    if (pending.length > 0) {
      setImmediate(() => {
        for (const entry of pending) entry.cb?.(canceledError('write'));
      });
    }
    this.#duplex.off('data', this.#onData);
    this.#duplex.pause();
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      this.#lingering = undefined;
      clearTimeout(timer);
      this.#duplex.destroy();
      this.#hooks.onClose?.();
    };
    let timer: NodeJS.Timeout | undefined;
    if (this.#inFlight === 0 || this.#duplex.destroyed) {
      finish();
      return;
    }
    // Bytes whose write() was accepted are still on their way through the Duplex (a TLS socket
    // encrypts from a later turn): let them out first, as closing a TCP socket sends what the kernel
    // took, but for LINGER_MS at most.
    this.#lingering = finish;
    timer = setTimeout(finish, LINGER_MS);
    timer.unref();
  }

  get closed(): boolean {
    return this.#closed;
  }

  setNoDelay(on: boolean): void {
    if (!this.#closed) this.#hooks.setNoDelay?.(on);
  }

  setKeepAlive(on: boolean, delayMs?: number): void {
    if (!this.#closed) this.#hooks.setKeepAlive?.(on, delayMs);
  }

  get localAddress(): SocketAddress {
    return this.#hooks.localAddress ?? NO_ADDRESS;
  }

  get remoteAddress(): SocketAddress {
    return this.#hooks.remoteAddress ?? NO_ADDRESS;
  }

  ref(): void {}

  unref(): void {}
}
