import { inspect } from 'node:util';

/** Receives every error greenhub cannot hand to a caller: uncaught greenlet errors, throwing callbacks. */
export type ErrorHandler = (error: unknown, context: string) => void;

let handler: ErrorHandler | undefined;

/** @internal Set by `configure({ onError })`. */
export function setErrorHandler(fn: ErrorHandler | undefined): void {
  handler = fn;
}

/** Print an error like gevent's hub does: when, what failed, and the stack. */
export function printError(error: unknown, context: string): void {
  const when = new Date().toISOString();
  const name = error instanceof Error ? error.name : typeof error;
  const detail = error instanceof Error ? (error.stack ?? String(error)) : inspect(error);
  process.stderr.write(`${when} ${context} failed with ${name}\n${detail}\n`);
}

/**
 * Report an error that has no caller to go to. The configured handler runs;
 * if it throws, the error is printed rather than lost.
 */
export function reportError(error: unknown, context: string): void {
  if (!handler) {
    printError(error, context);
    return;
  }
  try {
    handler(error, context);
  } catch (handlerError) {
    printError(error, context);
    printError(handlerError, 'onError handler');
  }
}
