import { getMainGreenlet, liveGreenletCount, liveGreenlets } from './greenlet.js';
import { getHub, hubCreatedAt } from './registry.js';

/** What `hubMetrics()` reports. */
export interface HubMetrics {
  /** ms the hub spent blocked waiting for events since it was created. */
  idleTime: number;
  /** Share of time the hub was busy since created (0..1) — correct on every hub, unlike Node's ELU under hub-libev. */
  utilization: number;
  /** Greenlets started and not yet ended. */
  greenlets: number;
  /** How many greenlets wait on each kind of thing: `{ sleep: 3, 'socket read': 10 }`. */
  waits: Record<string, number>;
}

/**
 * Counts of what the hub and its greenlets are doing, as a plain object.
 * @example setInterval(() => console.log(hubMetrics()), 10_000).unref();
 */
export function hubMetrics(): HubMetrics {
  const hub = getHub();
  const idleTime = hub.idleTime();
  const elapsed = performance.now() - hubCreatedAt();
  const waits: Record<string, number> = {};
  for (const g of liveGreenlets()) {
    const kind = g.waitingOn;
    if (kind) waits[kind] = (waits[kind] ?? 0) + 1;
  }
  const mainWait = getMainGreenlet().waitingOn;
  if (mainWait) waits[mainWait] = (waits[mainWait] ?? 0) + 1;
  return {
    idleTime,
    utilization: elapsed > 0 ? Math.min(1, Math.max(0, 1 - idleTime / elapsed)) : 0,
    greenlets: liveGreenletCount(),
    waits,
  };
}

/**
 * Every live greenlet, one per line: name, state, what it waits on, who
 * spawned it and its age — gevent's `print_run_info`.
 *
 * @example process.on('SIGUSR1', () => console.error(formatRunInfo()));
 */
export function formatRunInfo(): string {
  const now = performance.now();
  const hub = getHub();
  const lines = [`hub ${hub.name} (${hub.backend}); ${liveGreenletCount()} live greenlet(s)`];
  const main = getMainGreenlet();
  lines.push(`  main: ${main.waitingOn ? `waiting on ${main.waitingOn}` : 'running'}`);
  for (const g of liveGreenlets()) {
    const doing = g.state === 'running' ? (g.waitingOn ? `waiting on ${g.waitingOn}` : 'running') : g.state;
    lines.push(`  ${g.name}: ${doing}; spawned by ${g.spawner}; age ${Math.round(now - g.createdAt)} ms`);
  }
  return lines.join('\n');
}
