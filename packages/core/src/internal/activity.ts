/**
 * Counts greenlet starts and wake-ups, so `idle()` can tell a quiet hub turn
 * (nothing ran but the idle waiter itself) from a busy one.
 */
let count = 0;

export function noteActivity(): void {
  count++;
}

export function activityCount(): number {
  return count;
}
