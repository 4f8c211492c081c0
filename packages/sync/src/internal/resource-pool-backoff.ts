/** First delay after a failed `create()`, in ms. */
export const BACKOFF_INITIAL_MS = 10;
/** Longest delay between `create()` attempts, in ms. */
export const BACKOFF_MAX_MS = 1000;

/**
 * Delay before the next `create()` after `failures` failures in a row:
 * exponential from {@link BACKOFF_INITIAL_MS} to {@link BACKOFF_MAX_MS}, with
 * "equal jitter" (half fixed, half random) so that many pools failing
 * together do not retry in lockstep.
 */
export function backoffDelay(failures: number, random: () => number = Math.random): number {
  if (failures <= 0) return 0;
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** Math.min(failures - 1, 30));
  return ceiling / 2 + (ceiling / 2) * random();
}
