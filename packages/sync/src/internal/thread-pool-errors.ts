import type { SerializedThrow } from './thread-pool-worker.js';

const BUILTIN: Record<string, new (message?: string) => Error> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/**
 * Re-create on the calling thread what a task threw: same class for the
 * built-in error types, same name, message, `code` and other cloneable own
 * properties, `cause`, and the worker-side stack (with a line naming the task).
 */
export function reviveThrown(thrown: SerializedThrow, task: string, threadId: number): unknown {
  if (!thrown.isError) return thrown.value;
  const Ctor = BUILTIN[thrown.name] ?? Error;
  const error = new Ctor(thrown.message);
  if (error.name !== thrown.name) {
    Object.defineProperty(error, 'name', { value: thrown.name, writable: true, configurable: true });
  }
  Object.assign(error, thrown.props);
  if (thrown.cause !== undefined) {
    Object.defineProperty(error, 'cause', {
      value: reviveThrown(thrown.cause, task, threadId),
      writable: true,
      configurable: true,
    });
  }
  const stack = thrown.stack ?? `${thrown.name}: ${thrown.message}`;
  Object.defineProperty(error, 'stack', {
    value: `${stack}\n    at <ThreadPool task '${task}' on worker thread ${threadId}>`,
    writable: true,
    configurable: true,
  });
  return error;
}
