import diagnosticsChannel from 'node:diagnostics_channel';
import { getMainGreenlet, liveGreenletCount, liveGreenlets } from './greenlet.js';
import { getHub, hubCreatedAt } from './registry.js';
import { reportError } from './report-error.js';

/** What `hubMetrics()` reports. */
export interface HubMetrics {
  /** The hub's name: `'libev'`, `'pure'`... */
  hub: string;
  /** ms since the hub was created. */
  elapsed: number;
  /** ms the hub spent blocked waiting for events since it was created. */
  idleTime: number;
  /** Share of time the hub was busy since created (0..1) — correct on every hub, unlike Node's ELU under hub-libev. */
  utilization: number;
  /** Greenlets started and not yet ended. */
  greenlets: number;
  /** How many greenlets wait on each kind of thing: `{ sleep: 3, 'socket read': 10 }`. */
  waits: Record<string, number>;
  /** The values of every metric added with {@link registerMetric}: `{ 'http.connections': 12 }`. */
  gauges: Record<string, number>;
}

/** What `greenhub:metrics` subscribers receive: the metrics, and utilisation since the previous publication. */
export interface PublishedMetrics extends HubMetrics {
  /** Share of time the hub was busy since the previous publication (or since created). */
  recentUtilization: number;
}

/** Settings of the periodic metrics publication: `configure({ metrics: { interval: 5000 } })`. */
export interface MetricsOptions {
  /** Publish on `greenhub:metrics` every this many ms. Default 10 000. */
  interval?: number;
}

/** diagnostics_channel on which {@link publishMetrics} publishes. */
export const metricsChannel = diagnosticsChannel.channel('greenhub:metrics');

const gauges = new Map<string, () => number>();

/**
 * Add a named number to every `hubMetrics()` (under `gauges`) — for servers'
 * connection counts, pool sizes, queue lengths. A later registration under the
 * same name replaces the earlier one.
 *
 * @returns a function that removes the metric (only if it was not replaced since).
 * @example const unregister = registerMetric('http.connections', () => server.connections);
 */
export function registerMetric(name: string, read: () => number): () => void {
  if (typeof read !== 'function') {
    throw Object.assign(new TypeError(`registerMetric needs a function, got ${typeof read}`), {
      code: 'ERR_INVALID_ARG_TYPE',
    });
  }
  gauges.set(name, read);
  return () => {
    if (gauges.get(name) === read) gauges.delete(name);
  };
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
  const values: Record<string, number> = {};
  for (const [name, read] of gauges) {
    try {
      values[name] = read();
    } catch (err) {
      reportError(err, `metric ${name}`);
    }
  }
  return {
    hub: hub.name,
    elapsed,
    idleTime,
    utilization: busyShare(idleTime, elapsed),
    greenlets: liveGreenletCount(),
    waits,
    gauges: values,
  };
}

function busyShare(idle: number, elapsed: number): number {
  return elapsed > 0 ? Math.min(1, Math.max(0, 1 - idle / elapsed)) : 0;
}

let previous: { hub: string; elapsed: number; idleTime: number } | undefined;
let publisher: ReturnType<typeof setInterval> | undefined;

/**
 * Publish the metrics now on the `greenhub:metrics` diagnostics_channel (for
 * OpenTelemetry and other collectors) and return them.
 *
 * @example diagnostics_channel.subscribe('greenhub:metrics', (m) => gauge.record(m.utilization));
 */
export function publishMetrics(): PublishedMetrics {
  const metrics = hubMetrics();
  const since = previous?.hub === metrics.hub && previous.elapsed <= metrics.elapsed ? previous : undefined;
  const published: PublishedMetrics = {
    ...metrics,
    recentUtilization: since
      ? busyShare(metrics.idleTime - since.idleTime, metrics.elapsed - since.elapsed)
      : metrics.utilization,
  };
  previous = { hub: metrics.hub, elapsed: metrics.elapsed, idleTime: metrics.idleTime };
  if (metricsChannel.hasSubscribers) metricsChannel.publish(published);
  return published;
}

/** @internal Apply the `metrics` setting: publish every `interval` ms, or stop. */
export function applyMetricsSetting(setting: boolean | MetricsOptions): void {
  stopPublishing();
  if (setting === false) return;
  const interval = setting === true ? 10_000 : (setting.interval ?? 10_000);
  if (!(interval > 0)) throw new RangeError(`metrics interval must be > 0 ms, got ${interval}`);
  publisher = setInterval(() => {
    // Only when someone listens: no hub is created and nothing is counted otherwise.
    if (metricsChannel.hasSubscribers) publishMetrics();
  }, interval);
  publisher.unref();
}

/** @internal Stop the periodic publication and forget the previous sample (the hub went away). */
export function stopPublishing(): void {
  if (publisher) clearInterval(publisher);
  publisher = undefined;
  previous = undefined;
}
