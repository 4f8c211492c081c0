import { createRequire } from 'node:module';
import path from 'node:path';
import { codedError } from './errors.js';
import type { Hub, HubFactory } from './hub/index.js';
import { resetDeadlines } from './internal/deadlines.js';
import { resetRunQueue } from './internal/run-queue.js';
import { applyMetricsSetting, type MetricsOptions, stopPublishing } from './metrics.js';
import { applyMonitorSetting, type MonitorOptions, monitor } from './monitor.js';
import { type ErrorHandler, reportError, setErrorHandler } from './report-error.js';

/** Settings read by `configure()`; environment variables give the defaults. */
export interface ConfigureOptions {
  /** Ordered hub names (`'libev'` = `@greenhub/hub-libev`), module specifiers, or a factory. First that loads wins. Default `GREENHUB_HUB` or `'libev,pure'`. */
  hub?: string | string[] | HubFactory;
  /** DNS resolver for `@greenhub/net`. Default `GREENHUB_RESOLVER` or `'system'`. */
  resolver?: 'system' | 'ares';
  /** Worker threads for `ThreadPool`. Default `GREENHUB_THREADPOOL_SIZE` or 4. */
  threadpoolSize?: number;
  /** Receives uncaught greenlet errors and throwing callbacks. Default: print to stderr. */
  onError?: ErrorHandler;
  /** Blocking monitor: report a loop blocked longer than `maxBlockingTime` (default 100 ms). Default `GREENHUB_MONITOR=1`, else off. */
  monitor?: boolean | MonitorOptions;
  /** Publish `hubMetrics()` on the `greenhub:metrics` diagnostics_channel every `interval` ms (default 10 000). Default `GREENHUB_METRICS=1`, else off. */
  metrics?: boolean | MetricsOptions;
}

/** One entry of {@link availableHubs}. */
export interface HubAvailability {
  name: string;
  available: boolean;
  reason?: string;
}

const DEFAULT_HUBS = 'libev,pure';
const KNOWN_HUBS = ['libev', 'pure'];

interface Settings {
  hub: string[] | HubFactory;
  resolver: 'system' | 'ares';
  threadpoolSize: number;
  monitor: boolean | MonitorOptions;
  metrics: boolean | MetricsOptions;
}

function fromEnv(): Settings {
  const size = Number(process.env.GREENHUB_THREADPOOL_SIZE);
  return {
    hub: parseHubList(process.env.GREENHUB_HUB || DEFAULT_HUBS),
    resolver: process.env.GREENHUB_RESOLVER === 'ares' ? 'ares' : 'system',
    threadpoolSize: Number.isInteger(size) && size > 0 ? size : 4,
    monitor: process.env.GREENHUB_MONITOR === '1',
    metrics: process.env.GREENHUB_METRICS === '1',
  };
}

let settings: Settings = fromEnv();
let currentHub: Hub | undefined;
let createdAt = 0;

function parseHubList(list: string | string[]): string[] {
  const names = (Array.isArray(list) ? list : list.split(',')).map((name) => name.trim()).filter(Boolean);
  if (names.length === 0) {
    throw codedError(
      new TypeError('hub list is empty: name at least one hub, e.g. "libev,pure"'),
      'ERR_INVALID_ARG_VALUE',
    );
  }
  return names;
}

/**
 * Choose the hub and other settings. Must run before the hub is first used
 * (`getHub()`, `spawn()`, `sleep()`...), or after `resetHub()`.
 *
 * @throws `ERR_HUB_ALREADY_CREATED` when changing the hub while one runs.
 * @example configure({ hub: 'pure', onError: (err, where) => log.error(where, err) });
 */
export function configure(opts: ConfigureOptions): void {
  if (opts.hub !== undefined && currentHub) {
    throw codedError(
      new Error(
        `configure({ hub }) came after the hub '${currentHub.name}' was created: configure before first use, or call resetHub() first`,
      ),
      'ERR_HUB_ALREADY_CREATED',
    );
  }
  if (opts.hub !== undefined)
    settings.hub = typeof opts.hub === 'function' ? opts.hub : parseHubList(opts.hub);
  if (opts.resolver !== undefined) {
    if (opts.resolver !== 'system' && opts.resolver !== 'ares') {
      throw codedError(
        new TypeError(`resolver must be 'system' or 'ares', got ${String(opts.resolver)}`),
        'ERR_INVALID_ARG_VALUE',
      );
    }
    settings.resolver = opts.resolver;
  }
  if (opts.threadpoolSize !== undefined) {
    if (!Number.isInteger(opts.threadpoolSize) || opts.threadpoolSize < 1) {
      throw codedError(
        new RangeError(`threadpoolSize must be a positive integer, got ${opts.threadpoolSize}`),
        'ERR_OUT_OF_RANGE',
      );
    }
    settings.threadpoolSize = opts.threadpoolSize;
  }
  if (opts.monitor !== undefined) {
    checkPositive(
      'monitor.maxBlockingTime',
      typeof opts.monitor === 'object' ? opts.monitor.maxBlockingTime : undefined,
    );
    settings.monitor = opts.monitor;
    // Observers live with the hub: started when it is created, or now if it runs.
    if (currentHub || opts.monitor === false) applyMonitorSetting(opts.monitor);
  }
  if (opts.metrics !== undefined) {
    checkPositive('metrics.interval', typeof opts.metrics === 'object' ? opts.metrics.interval : undefined);
    settings.metrics = opts.metrics;
    if (currentHub || opts.metrics === false) applyMetricsSetting(opts.metrics);
  }
  if ('onError' in opts) setErrorHandler(opts.onError);
}

function checkPositive(name: string, ms: number | undefined): void {
  if (ms !== undefined && !(typeof ms === 'number' && ms > 0)) {
    throw codedError(
      new RangeError(`${name} must be a number of ms > 0, got ${String(ms)}`),
      'ERR_OUT_OF_RANGE',
    );
  }
}

/** @internal The settings in force, for other greenhub packages. */
export function getSettings(): Readonly<Omit<Settings, 'hub'>> {
  return settings;
}

/** @internal Restore every setting to its environment default (tests). */
export function resetSettings(): void {
  settings = fromEnv();
  setErrorHandler(undefined);
  if (!currentHub) return;
  applyMonitorSetting(settings.monitor);
  applyMetricsSetting(settings.metrics);
}

/**
 * The running hub, created from the configuration on first use.
 *
 * @throws `ERR_NO_HUB` listing every hub tried, why it failed and what to do.
 * @example console.log(`running on ${getHub().name}`);
 */
export function getHub(): Hub {
  return currentHub ?? createConfiguredHub();
}

/** @internal `performance.now()` when the current hub was created. */
export function hubCreatedAt(): number {
  return createdAt;
}

/** The running hub if one was created, without creating one. */
export function peekHub(): Hub | undefined {
  return currentHub;
}

/**
 * Close the current hub (its watchers, sockets and timers) so the next
 * `getHub()` creates a fresh one. For tests and embedding.
 */
export function resetHub(): void {
  const hub = currentHub;
  currentHub = undefined;
  monitor._stop();
  stopPublishing();
  resetRunQueue();
  resetDeadlines();
  hub?.close();
}

const hubOptions = { onError: reportError };

function createConfiguredHub(): Hub {
  const choice = settings.hub;
  createdAt = performance.now();
  if (typeof choice === 'function') {
    currentHub = choice(hubOptions);
    return startObservers(currentHub);
  }
  const failures: string[] = [];
  for (const name of choice) {
    const loaded = loadHubFactory(name);
    if ('factory' in loaded) {
      try {
        currentHub = loaded.factory(hubOptions);
        return startObservers(currentHub);
      } catch (err) {
        failures.push(`  - ${name} (${loaded.specifier}): createHub() threw: ${errorText(err)}`);
        continue;
      }
    }
    failures.push(`  - ${name} (${loaded.specifier}): ${indent(loaded.reason)}`);
  }
  throw codedError(
    new Error(
      `No greenhub hub could be loaded. Tried, in order (GREENHUB_HUB=${choice.join(',')}):\n${failures.join('\n')}\n` +
        'Install a hub (npm install @greenhub/hub-pure works everywhere), or set GREENHUB_HUB to one that is installed.',
    ),
    'ERR_NO_HUB',
  );
}

/** Start the blocking monitor and the metrics publication if configured (nothing at all otherwise). */
function startObservers(hub: Hub): Hub {
  // The hub is up either way: an observer that cannot start (no worker threads here) is reported.
  try {
    if (settings.monitor !== false) applyMonitorSetting(settings.monitor);
  } catch (err) {
    reportError(err, 'blocking monitor');
  }
  if (settings.metrics !== false) applyMetricsSetting(settings.metrics);
  return hub;
}

/**
 * Which hubs can load on this machine: the configured ones and the known
 * ones (`libev`, `pure`), each with the reason when it cannot.
 *
 * @example for (const h of availableHubs()) console.log(h.name, h.available ? 'ok' : h.reason);
 */
export function availableHubs(): HubAvailability[] {
  const names = [...(Array.isArray(settings.hub) ? settings.hub : []), ...KNOWN_HUBS];
  const seen = new Set<string>();
  const result: HubAvailability[] = [];
  for (const name of names) {
    if (seen.has(name)) continue;
    seen.add(name);
    const loaded = loadHubFactory(name);
    result.push(
      'factory' in loaded ? { name, available: true } : { name, available: false, reason: loaded.reason },
    );
  }
  return result;
}

/** `libev` → `@greenhub/hub-libev`; anything with a slash, dot or `@` is a module specifier. */
export function hubSpecifier(name: string): string {
  return /^[a-z0-9][a-z0-9_-]*$/i.test(name) ? `@greenhub/hub-${name}` : name;
}

type Loaded = { specifier: string; factory: HubFactory } | { specifier: string; reason: string };

const loadCache = new Map<string, Loaded>();

function loadHubFactory(name: string): Loaded {
  const cached = loadCache.get(name);
  if (cached && 'factory' in cached) return cached;
  const loaded = tryLoad(name);
  loadCache.set(name, loaded);
  return loaded;
}

function requirers(): NodeJS.Require[] {
  // The application's directory first (a hub installed next to the app), then core's own.
  return [createRequire(path.join(process.cwd(), 'package.json')), createRequire(import.meta.url)];
}

function tryLoad(name: string): Loaded {
  const specifier = hubSpecifier(name);
  const isPath = specifier.startsWith('.') || path.isAbsolute(specifier);
  const target = isPath ? path.resolve(specifier) : specifier;
  let resolved: string | undefined;
  let req: NodeJS.Require | undefined;
  for (const candidate of requirers()) {
    try {
      resolved = candidate.resolve(target);
      req = candidate;
      break;
    } catch {
      // try the next base directory
    }
  }
  if (!resolved || !req) {
    return {
      specifier,
      reason: isPath
        ? `module not found at ${target}`
        : `not installed — npm install ${specifier} (looked from ${process.cwd()} and from @greenhub/core)`,
    };
  }
  let mod: unknown;
  try {
    mod = req(resolved);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_REQUIRE_ESM' || code === 'ERR_REQUIRE_ASYNC_MODULE') {
      return {
        specifier,
        reason: `${resolved} is ESM-only; hubs are loaded synchronously, so the module needs a CommonJS entry (or Node >= 22.12)`,
      };
    }
    return { specifier, reason: errorText(err) };
  }
  const factory = (mod as { createHub?: unknown } | null)?.createHub;
  if (typeof factory !== 'function') {
    return { specifier, reason: `${resolved} does not export a createHub(options) function` };
  }
  return { specifier, factory: factory as HubFactory };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function indent(text: string): string {
  return text.replace(/\n/g, '\n      ');
}
