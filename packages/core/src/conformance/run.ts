import { describe } from 'vitest';
import type { HubFactory } from '../hub/index.js';
import { addressFamilies } from './address-families.js';
import { backpressure } from './backpressure.js';
import { callbacks } from './callbacks.js';
import { coexistence } from './coexistence.js';
import { errors } from './errors.js';
import { exceptions } from './exceptions.js';
import { fdLimits } from './fd-limits.js';
import { hostProcess } from './host-process.js';
import type { Suite } from './internal/harness.js';
import { keepAlive } from './keep-alive.js';
import { lifecycle } from './lifecycle.js';
import { load } from './load.js';
import { otherProcess } from './other-process.js';
import { requests } from './requests.js';
import { signals } from './signals.js';
import { streams } from './streams.js';
import { timers } from './timers.js';
import { datagrams } from './udp.js';

/** Options for {@link runHubConformance}. */
export interface HubConformanceOptions {
  /**
   * A module specifier for the hub, importable from the test's working
   * directory: a package name (`'@acme/greenhub-hub-uring'`) or an absolute
   * path to a built ES module or CommonJS file. It must export `createHub`.
   * The checks that need a fresh process (keep-alive and exit, Workers, GC,
   * descriptor limits, Node I/O while the hub waits) import it in child
   * processes; without it they are reported as skipped.
   */
  module?: string;
  /** The hub's short name: shown in the suite's title, and checked against `hub.name`. */
  name?: string;
}

/**
 * Declare the hub conformance suite in the calling vitest file: every rule of
 * the hub contract, checked against hubs made by `createHub`. Each test gets a
 * fresh hub and must leave it with nothing active, referenced or open.
 *
 * @param createHub The hub's factory; called once per test with `{ onError }`.
 * @param options `module` enables the child-process checks; `name` labels the suite.
 * @example
 * import { runHubConformance } from '@greenhub/core/conformance';
 * import { createHub } from '../src/index.js';
 *
 * runHubConformance(createHub, { module: '@acme/greenhub-hub-uring', name: 'uring' });
 */
export function runHubConformance(createHub: HubFactory, options: HubConformanceOptions = {}): void {
  const suite: Suite = { createHub, module: options.module, name: options.name ?? '' };
  describe(`hub conformance${suite.name ? `: ${suite.name}` : ''}`, () => {
    callbacks(suite);
    timers(suite);
    keepAlive(suite);
    hostProcess(suite);
    streams(suite);
    addressFamilies(suite);
    fdLimits(suite);
    errors(suite);
    exceptions(suite);
    requests(suite);
    backpressure(suite);
    load(suite);
    datagrams(suite);
    signals(suite);
    coexistence(suite);
    otherProcess(suite);
    lifecycle(suite);
  });
}
