// Whether the machine was busy with something else when a run started: the
// share of all cores used in a short window just before it, while the bench
// itself runs nothing. (The load average is no use: it counts the bench's own
// processes.) No side effects, so a bench's child processes may import it.
import { readFileSync } from 'node:fs';

/** Busy and total CPU time of the whole machine so far, in ticks (/proc/stat's first line). */
function cpuTicks() {
  const fields = readFileSync('/proc/stat', 'utf8')
    .split('\n', 1)[0]
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  // idle and iowait are not busy
  return { busy: total - fields[3] - (fields[4] ?? 0), total };
}

/** Sleep without an event loop (for benches that run their children synchronously). */
function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A run counts as taken on a busy machine when other processes used more than this share of all cores. */
export const BUSY_SHARE = 0.15;

/** What the busy mark of a bench's table means, as its heading says it. */
export const BUSY_NOTE = `busy = other processes used more than ${BUSY_SHARE * 100}% of the cores just before a run`;

/**
 * The share of all cores (0 to 1) that the machine used in a short window
 * just before a run, when this bench runs nothing: other processes' load.
 * Null where /proc/stat is missing.
 */
export function machineBusy(windowMs = 250) {
  try {
    const a = cpuTicks();
    sleepSync(windowMs);
    const b = cpuTicks();
    return b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : 0;
  } catch {
    return null;
  }
}
