import { canceledError } from '@greenhub/core';
import type { Runtime } from './runtime.js';

/** A one-shot request (write, shutdown, send) whose callback must run exactly once. */
export interface Request {
  readonly syscall: string;
  readonly cb: ((err: Error | null) => void) | undefined;
  done: boolean;
}

/**
 * The pending requests of one handle.
 *
 * Node may report a request's end more than once or not at all (a destroyed
 * socket calls back with `ERR_STREAM_DESTROYED`, sometimes after we already
 * cancelled); finishing goes through here so that each callback runs once.
 */
export class Requests {
  readonly #pending = new Set<Request>();

  constructor(
    private readonly rt: Runtime,
    private readonly owner: object,
  ) {}

  get size(): number {
    return this.#pending.size;
  }

  open(syscall: string, cb: ((err: Error | null) => void) | undefined): Request {
    const req: Request = { syscall, cb, done: false };
    this.#pending.add(req);
    return req;
  }

  /** Complete `req` with `err` from a later turn; false if it had already been completed. */
  finish(req: Request, err: Error | null): boolean {
    if (req.done) return false;
    req.done = true;
    this.#pending.delete(req);
    this.rt.complete(req.cb, err, this.owner, req.syscall);
    return true;
  }

  /** Forget `req` without calling back: for a request Node refused by throwing at once. */
  abandon(req: Request): void {
    req.done = true;
    this.#pending.delete(req);
  }

  /** Finish every pending request, in order, with `err` (by default `ECANCELED`). */
  failAll(err?: Error): void {
    for (const req of [...this.#pending]) this.finish(req, err ?? canceledError(req.syscall));
  }
}
