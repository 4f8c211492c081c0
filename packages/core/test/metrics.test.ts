import diagnosticsChannel from 'node:diagnostics_channel';
import { afterEach, expect, it } from 'vitest';
import {
  configure,
  getHub,
  hubMetrics,
  metricsChannel,
  type PublishedMetrics,
  publishMetrics,
  registerMetric,
  sleep,
  spawn,
} from '../src/index.js';
import { captureReportedErrors, describeEachHub } from '../src/testing/index.js';

function spinFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describeEachHub('metrics', () => {
  const reported = captureReportedErrors();
  afterEach(() => {
    configure({ metrics: false });
  });

  it('hubMetrics names the hub and keeps idle time within the time elapsed', async () => {
    await sleep(20);
    const m = hubMetrics();
    expect(m.hub).toBe(getHub().name);
    expect(m.elapsed).toBeGreaterThan(0);
    expect(m.idleTime).toBeGreaterThan(0);
    expect(m.idleTime).toBeLessThanOrEqual(m.elapsed + 1);
    expect(m.utilization).toBeGreaterThanOrEqual(0);
    expect(m.utilization).toBeLessThanOrEqual(1);
    expect(m.greenlets).toBe(0);
    expect(m.waits).toEqual({});
    expect(m.gauges).toEqual({});
  });

  it('utilisation follows the hub: near 1 while busy, near 0 while waiting (hub-libev included)', async () => {
    publishMetrics();
    spinFor(150);
    const busy = publishMetrics().recentUtilization;
    await sleep(150);
    const waiting = publishMetrics().recentUtilization;
    expect(busy).toBeGreaterThan(0.8);
    expect(waiting).toBeLessThan(0.3);
  });

  it('registerMetric adds a gauge until unregistered; a throwing gauge is reported and left out', () => {
    let connections = 3;
    const unregister = registerMetric('test.connections', () => connections);
    const failing = new Error('gauge broke');
    const unregisterBroken = registerMetric('test.broken', () => {
      throw failing;
    });
    try {
      expect(hubMetrics().gauges).toEqual({ 'test.connections': 3 });
      connections = 5;
      expect(hubMetrics().gauges['test.connections']).toBe(5);
      expect(reported).toEqual([failing, failing]);
    } finally {
      unregister();
      unregisterBroken();
    }
    expect(hubMetrics().gauges).toEqual({});
  });

  it('publishMetrics publishes on greenhub:metrics for diagnostics_channel subscribers', async () => {
    const received: PublishedMetrics[] = [];
    const onMetrics = (m: unknown): void => {
      received.push(m as PublishedMetrics);
    };
    diagnosticsChannel.subscribe('greenhub:metrics', onMetrics);
    try {
      const g = spawn(() => sleep(60_000));
      const returned = publishMetrics();
      expect(received).toEqual([returned]);
      expect(returned.greenlets).toBe(1);
      expect(returned.recentUtilization).toBeGreaterThanOrEqual(0);
      expect(returned.recentUtilization).toBeLessThanOrEqual(1);
      await g.kill();
    } finally {
      diagnosticsChannel.unsubscribe('greenhub:metrics', onMetrics);
    }
    expect(metricsChannel.hasSubscribers).toBe(false);
  });

  it('configure({ metrics: { interval } }) publishes periodically until turned off', async () => {
    const received: PublishedMetrics[] = [];
    const onMetrics = (m: unknown): void => {
      received.push(m as PublishedMetrics);
    };
    diagnosticsChannel.subscribe('greenhub:metrics', onMetrics);
    try {
      configure({ metrics: { interval: 10 } });
      for (let i = 0; i < 100 && received.length < 3; i++) await sleep(10);
      expect(received.length).toBeGreaterThanOrEqual(3);
      expect(received[0]!.hub).toBe(getHub().name);
      configure({ metrics: false });
      const count = received.length;
      await sleep(50);
      expect(received.length).toBe(count);
    } finally {
      diagnosticsChannel.unsubscribe('greenhub:metrics', onMetrics);
    }
  });
});
