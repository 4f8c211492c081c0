// The task module of threadpool.mjs: every exported function is a task that
// ThreadPool runs in a worker thread (arguments and results by structured clone;
// `this` is { signal, name }, for tasks that can stop early).

/** Deliberately slow Fibonacci: pure CPU work, no await anywhere. */
export function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
