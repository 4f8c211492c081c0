// wrk, the HTTP load generator of the HTTP benchmarks: Debian's, installed
// when missing and possible.
import { execFileSync } from 'node:child_process';
import { hasCommand } from './harness.mjs';

/** Make sure wrk is there: installed with apt-get when missing and we are root (as issue 6 asks), else a clear error. */
export function ensureWrk() {
  if (hasCommand('wrk')) return;
  if (process.getuid?.() === 0 && hasCommand('apt-get')) {
    console.log('(installing wrk: apt-get install -y wrk)');
    execFileSync(
      'sh',
      ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk'],
      {
        stdio: 'inherit',
      },
    );
    if (hasCommand('wrk')) return;
  }
  throw new Error('wrk is needed: apt-get install wrk');
}
