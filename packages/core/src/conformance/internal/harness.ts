import { afterEach, beforeEach, expect } from 'vitest';
import type { Hub, HubFactory, HubStats } from '../../hub/index.js';
import { until } from './wait.js';

/** What `runHubConformance()` passes to every topic. */
export interface Suite {
  createHub: HubFactory;
  /** Specifier of a module exporting `createHub`, resolvable from the test's working directory; for child processes. */
  module: string | undefined;
  name: string;
}

/** An error the hub reported through `onError`. */
export interface ReportedError {
  error: unknown;
  context: string;
}

/** The per-test state a topic works with: a fresh hub, its reported errors, and cleanups. */
export interface HubTest {
  readonly hub: Hub;
  /** Errors the hub passed to `onError` that the test has not taken yet. */
  readonly errors: ReportedError[];
  /** Take (and so accept) every error reported so far. */
  takeErrors(): ReportedError[];
  /** Run `fn` after the test, before the leak check (last registered runs first). */
  defer(fn: () => unknown): void;
}

const ZERO: HubStats = { active: 0, referenced: 0, open: 0 };

function statsText(stats: HubStats): string {
  return `active ${stats.active}, referenced ${stats.referenced}, open ${stats.open}`;
}

/**
 * Give each test of the enclosing `describe` its own hub, created with an
 * `onError` that records reports. After the test: run its cleanups, then check
 * that the hub has nothing left (stats all 0) and reported nothing the test
 * did not expect, then close the hub.
 */
export function useHub(suite: Suite): () => HubTest {
  let current: HubTest | undefined;
  let cleanups: Array<() => unknown> = [];

  beforeEach(() => {
    const errors: ReportedError[] = [];
    const hub = suite.createHub({ onError: (error, context) => errors.push({ error, context }) });
    cleanups = [];
    current = {
      hub,
      errors,
      takeErrors: () => errors.splice(0, errors.length),
      defer: (fn) => {
        cleanups.push(fn);
      },
    };
  });

  afterEach(async () => {
    const test = current;
    current = undefined;
    if (!test) return;
    const { hub } = test;
    try {
      const failures: unknown[] = [];
      for (const fn of cleanups.reverse()) {
        try {
          await fn();
        } catch (err) {
          failures.push(err);
        }
      }
      cleanups = [];
      if (failures.length > 0) throw failures[0];
      if (!isClosed(hub)) {
        // Cancelled requests may still be on their way to their ECANCELED callback: give them a moment.
        await until(
          () => {
            const s = hub.stats();
            return s.active === 0 && s.referenced === 0 && s.open === 0;
          },
          'the hub to have nothing left once the test closed everything',
          1000,
          () => statsText(hub.stats()),
        ).catch(() => undefined);
        expect(hub.stats(), 'hub.stats() after the test closed everything').toEqual(ZERO);
      }
      const unexpected = test.errors.map((e) => `${e.context}: ${String(e.error)}`);
      expect(unexpected, 'errors the hub reported to onError during the test').toEqual([]);
    } finally {
      hub.close();
    }
  });

  return () => {
    if (!current) throw new Error('the hub is only available inside a test');
    return current;
  };
}

/** True when the test itself closed the hub (then there is nothing left to check). */
function isClosed(hub: Hub): boolean {
  try {
    hub.stats();
    return false;
  } catch (err) {
    if (codeOf(err) === 'ERR_HUB_CLOSED') return true;
    throw err;
  }
}

/** Read `code` from an error-like value. */
export function codeOf(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

/** Assert that `fn` throws an error with `code`, and return it. */
export function expectThrowsCode(fn: () => unknown, code: string, what: string): Error {
  let thrown: unknown;
  let threw = false;
  try {
    fn();
  } catch (err) {
    thrown = err;
    threw = true;
  }
  expect(threw, `${what} should throw ${code}`).toBe(true);
  expect(thrown, `${what} should throw an Error`).toBeInstanceOf(Error);
  expect(codeOf(thrown), `code of the error ${what} threw`).toBe(code);
  return thrown as Error;
}
