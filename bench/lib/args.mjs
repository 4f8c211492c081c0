// The command-line flags every benchmark understands, so that bench/run.mjs at
// the root can drive the per-package benches and merge what they measured:
//
//   --quick            a short smoke run (smaller counts, 1 repeat)
//   --json FILE        also write the result rows to FILE as JSON
//   --with a,b         extra contenders to measure in the same runs (gevent, eventlet)
import { writeFileSync } from 'node:fs';

/** The value following `flag` on the command line, or undefined. */
function flagValue(flag) {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** True when the bench was started with --quick (a short smoke run). */
export const quick = process.argv.includes('--quick');

/** How many times each figure is measured (its median is shown): 3, or 1 in a --quick run. */
export const REPEATS = quick ? 1 : 3;

/** The extra contenders asked for with --with (e.g. ['gevent', 'eventlet']); none by default. */
export const extraContenders = (flagValue('--with') ?? '').split(',').filter(Boolean);

/**
 * Write `rows` to the file named by --json, if any. Each row is
 * `{ workload, contender, key, unit, median, min, max, ratio, loaded, baseline, ... }`
 * (see Results in harness.mjs); the dashboard merges the files of several benches.
 */
export function writeJsonRows(rows) {
  const file = flagValue('--json');
  if (file) writeFileSync(file, `${JSON.stringify({ rows }, null, 2)}\n`);
}
