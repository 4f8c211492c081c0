/**
 * Test helpers for greenhub packages: run a suite once per available hub and
 * check that every test ends clean. Import from `@greenhub/core/testing`
 * inside vitest test files only.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { liveGreenlets } from '../greenlet.js';
import { killall } from '../joinall.js';
import {
  availableHubs,
  configure,
  getHub,
  type HubAvailability,
  resetHub,
  resetSettings,
} from '../registry.js';
import { idle } from '../sleep.js';
import { withTimeout } from '../timeout.js';

const KNOWN = ['libev', 'pure'];

function listEnv(name: string): string[] {
  return (process.env[name] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Hubs that must load (`GREENHUB_REQUIRE_HUBS=libev,pure` in CI): one that cannot is a failure, not a skip. */
export function requiredHubs(): string[] {
  return listEnv('GREENHUB_REQUIRE_HUBS');
}

/** The hubs a suite runs on: `GREENHUB_TEST_HUBS` or `libev,pure`, each with whether it loads here and why not. */
export function hubsUnderTest(): HubAvailability[] {
  const wanted = listEnv('GREENHUB_TEST_HUBS');
  const names = wanted.length > 0 ? wanted : KNOWN;
  const known = new Map(availableHubsFor(names).map((h) => [h.name, h]));
  return names.map((name) => known.get(name) ?? { name, available: false, reason: 'unknown hub' });
}

function availableHubsFor(names: string[]): HubAvailability[] {
  resetHub();
  configure({ hub: names });
  const result = availableHubs().filter((h) => names.includes(h.name));
  resetSettings();
  return result;
}

/** Options for {@link describeEachHub}. */
export interface EachHubOptions {
  /** Check after each test that no greenlet and no active hub work is left (default true). */
  checkClean?: boolean;
}

/**
 * Declare a suite once per hub: `title [pure]`, `title [libev]`. Each runs on
 * a fresh hub of that kind. A hub that cannot load is a skipped suite naming
 * the reason — or a failing test when `GREENHUB_REQUIRE_HUBS` names it.
 *
 * @example
 * describeEachHub('sleep', () => {
 *   it('sleep(0) yields to every ready greenlet', async () => { ... });
 * });
 */
export function describeEachHub(title: string, body: (hub: string) => void, opts?: EachHubOptions): void {
  const required = requiredHubs();
  for (const hub of hubsUnderTest()) {
    if (!hub.available) {
      if (required.includes(hub.name)) {
        describe(`${title} [${hub.name}]`, () => {
          it(`needs hub ${hub.name}, which GREENHUB_REQUIRE_HUBS requires`, () => {
            throw new Error(`hub ${hub.name} cannot load: ${hub.reason}`);
          });
        });
      } else {
        describe.skip(`${title} [${hub.name}] — skipped: ${hub.reason?.split('\n')[0]}`, () => {
          it('is skipped', () => {});
        });
      }
      continue;
    }
    describe(`${title} [${hub.name}]`, () => {
      beforeAll(() => {
        resetHub();
        resetSettings();
        configure({ hub: hub.name });
      });
      if (opts?.checkClean !== false) afterEach(expectClean);
      afterAll(() => {
        resetHub();
        resetSettings();
      });
      body(hub.name);
    });
  }
}

/**
 * Fail if the test left greenlets alive or hub work active (a leaked timer,
 * socket or callback). Leftover greenlets are killed first so one leaky test
 * does not spoil the next.
 */
export async function expectClean(): Promise<void> {
  const leftovers = [...liveGreenlets()];
  if (leftovers.length > 0) {
    await killall(leftovers, undefined, { timeout: 1000 }).catch(() => {});
  }
  await withTimeout(2000, () => idle(), { fallback: undefined });
  const stats = getHub().stats();
  expect(
    leftovers.map((g) => `${g.name} (${g.state}${g.waitingOn ? `, waiting on ${g.waitingOn}` : ''})`),
    'greenlets left alive by the test',
  ).toEqual([]);
  expect({ active: stats.active, open: stats.open }, 'hub work left active by the test').toEqual({
    active: 0,
    open: 0,
  });
}

/**
 * Route the errors greenhub reports (uncaught greenlet errors, throwing
 * callbacks) into an array for the tests of the enclosing suite, emptied
 * before each test; the default handler comes back after each.
 *
 * @example
 * const reported = captureReportedErrors();
 * it('reports the failure', async () => { ...; expect(reported).toEqual([boom]); });
 */
export function captureReportedErrors(): unknown[] {
  const reported: unknown[] = [];
  beforeEach(() => {
    reported.length = 0;
    configure({ onError: (error) => reported.push(error) });
  });
  afterEach(() => {
    configure({ onError: undefined });
  });
  return reported;
}
