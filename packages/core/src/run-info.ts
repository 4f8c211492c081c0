import { type Greenlet, getcurrent, getMainGreenlet, liveGreenletCount, liveGreenlets } from './greenlet.js';
import { getHub } from './registry.js';

/**
 * Every live greenlet, one per line: name, state, what it waits on, who
 * spawned it and its age — gevent's `print_run_info`.
 *
 * @example process.on('SIGUSR1', () => console.error(formatRunInfo()));
 */
export function formatRunInfo(): string {
  const now = performance.now();
  const hub = getHub();
  const current = getcurrent();
  const lines = [`hub ${hub.name} (${hub.backend}); ${liveGreenletCount()} live greenlet(s)`];
  lines.push(`  main: ${activity(getMainGreenlet(), current)}`);
  for (const g of liveGreenlets()) {
    lines.push(
      `  ${g.name}: ${activity(g, current)}; spawned by ${g.spawner}; age ${Math.round(now - g.createdAt)} ms`,
    );
  }
  return lines.join('\n');
}

function activity(g: Greenlet<unknown>, current: Greenlet<unknown>): string {
  if (g.state !== 'running') return g.state;
  if (g.waitingOn) return `waiting on ${g.waitingOn}`;
  // Only the current greenlet can be running JavaScript now; another one outside a greenhub
  // wait awaits a promise greenhub does not know (fetch, fs), or was woken and resumes next.
  return g === current
    ? 'running (current)'
    : 'running (awaiting a non-greenhub promise, or about to resume)';
}
