// Outgoing frames of one connection, from several greenlets: data frames
// from send()/ping() wait their turn and for the socket to drain; control
// frames (pongs, close) from the reader never wait — they go at once, or
// right after the data frame that is waiting for the socket.

import { Waiter } from '@greenhub/core';
import type { Socket } from '../socket.js';

const EMPTY = Buffer.alloc(0);

/** @internal */
export class FrameWriter {
  readonly #sock: Socket;
  /** A data frame is being written (waiting for the socket to drain); later ones wait their turn. */
  #locked = false;
  /** The last frame went out with `_send()` above the high-water mark: the next one waits for the socket. */
  #backedUp = false;
  #writers: Waiter<void>[] = [];
  /** Control frames held back while a data frame waits for the socket. */
  #urgent: Uint8Array[] = [];

  constructor(sock: Socket) {
    this.#sock = sock;
  }

  /** A data frame is waiting for the socket. */
  get busy(): boolean {
    return this.#locked;
  }

  /** Queue a control frame without waiting. A closed or broken socket is ignored: the reader learns of it. */
  sendNow(frame: Uint8Array): void {
    if (this.#locked) {
      this.#urgent.push(frame);
      return;
    }
    try {
      this.#sock._send(frame);
    } catch {
      // Closed or broken.
    }
  }

  /**
   * Send a data frame: undefined when it was queued without waiting, else a
   * promise resolved once it is queued below the socket's high-water mark.
   */
  write(frame: Uint8Array): Promise<void> | undefined {
    if (this.#locked) return this.#writeInTurn(frame);
    // Without a promise while the socket keeps up. The frame that leaves it backed up goes
    // without waiting; the next one waits, after queueing itself, for the socket to drain.
    const wasBackedUp = this.#backedUp;
    try {
      this.#backedUp = !this.#sock._send(frame);
    } catch (err) {
      return Promise.reject(err);
    }
    if (!this.#backedUp || !wasBackedUp) return undefined;
    this.#locked = true;
    return this.#sock.write(EMPTY).then(
      () => {
        this.#backedUp = false;
        this.#unlock();
      },
      (err) => {
        this.#unlock();
        throw err;
      },
    );
  }

  async #writeInTurn(frame: Uint8Array): Promise<void> {
    const turn = new Waiter<void>('websocket send');
    this.#writers.push(turn);
    try {
      await turn.get();
    } catch (err) {
      const at = this.#writers.indexOf(turn);
      if (at >= 0) this.#writers.splice(at, 1);
      throw err;
    }
    try {
      await this.#sock.write(frame);
      this.#backedUp = false;
    } finally {
      this.#unlock();
    }
  }

  /** The data frame in turn went out: send held control frames, hand the turn to the next writer. */
  #unlock(): void {
    for (const frame of this.#urgent.splice(0)) {
      try {
        this.#sock._send(frame);
      } catch {
        break;
      }
    }
    // A writer killed or timed out may still be listed (its wait settled, its cleanup not run yet): skip it.
    for (let next = this.#writers.shift(); next !== undefined; next = this.#writers.shift()) {
      if (next.switch()) return;
    }
    this.#locked = false;
  }

  /** The connection is over: every writer waiting for its turn fails with `error`. */
  close(error: () => Error): void {
    for (const w of this.#writers.splice(0)) w.throw(error());
  }
}
