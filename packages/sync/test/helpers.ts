import { type Greenlet, spawn } from '@greenhub/core';

/** Run `fn` in a greenlet that returns what it threw instead of failing. */
export function spawnCatching<T>(fn: () => Promise<T>): Greenlet<{ value?: T; error?: unknown }> {
  return spawn(async (): Promise<{ value?: T; error?: unknown }> => {
    try {
      return { value: await fn() };
    } catch (error) {
      return { error };
    }
  });
}
