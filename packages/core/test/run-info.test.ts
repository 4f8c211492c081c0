import { expect, it } from 'vitest';
import {
  formatRunInfo,
  getHub,
  hubMetrics,
  idle,
  joinall,
  killall,
  sleep,
  spawn,
  Waiter,
} from '../src/index.js';
import { describeEachHub } from '../src/testing/index.js';

describeEachHub('formatRunInfo and hubMetrics', () => {
  it('formatRunInfo lists each live greenlet with its name, what it waits on, its spawner and its age', async () => {
    const parked = new Waiter<void>('parked');
    const sleeper = spawn(async function sleeper() {
      await sleep(60_000);
    });
    const parent = spawn(async function parent() {
      spawn(async function child() {
        await parked.get();
      });
      await sleep(60_000);
    });
    await idle();
    const info = formatRunInfo();
    expect(info).toContain(`hub ${getHub().name}`);
    expect(info).toMatch(new RegExp(`${sleeper.name}: waiting on sleep; spawned by main; age \\d+ ms`));
    expect(info).toMatch(new RegExp(`child#\\d+: waiting on parked; spawned by ${parent.name}; age \\d+ ms`));
    expect(info).toContain(parent.name);
    await killall([sleeper, parent]);
    parked.switch();
    await idle();
    expect(formatRunInfo()).not.toContain('child#');
  });

  it('greenlets are named after their function and id; an explicit name is kept', async () => {
    const crawler = spawn(async function crawl() {});
    const anonymous = spawn(async () => {});
    const named = spawn(async function handler() {});
    named.name = 'handler:127.0.0.1:5000';
    expect(crawler.name).toBe(`crawl#${crawler.id}`);
    expect(anonymous.name).toBe(`greenlet#${anonymous.id}`);
    expect(formatRunInfo()).toContain('handler:127.0.0.1:5000: scheduled');
    await joinall([crawler, anonymous, named]);
  });

  it('formatRunInfo tells the running greenlet from one awaiting a promise greenhub does not know', async () => {
    let release!: () => void;
    const foreign = new Promise<void>((resolve) => {
      release = resolve;
    });
    const outside = spawn(async function fetcher() {
      await foreign;
    });
    await idle();
    const looker = spawn(function looker() {
      return formatRunInfo();
    });
    const info = await looker.get();
    expect(info).toContain(`${looker.name}: running (current); spawned by main`);
    expect(info).toContain(`${outside.name}: running (awaiting a non-greenhub promise, or about to resume)`);
    expect(info).toContain('  main: ');
    release();
    await outside.join();
  });

  it('formatRunInfo shows a greenlet that has not started yet as scheduled', async () => {
    const g = spawn(function notYet() {});
    expect(formatRunInfo()).toMatch(new RegExp(`${g.name}: scheduled`));
    await g.join();
  });

  it('hubMetrics counts live greenlets and their waits by kind', async () => {
    const parked = new Waiter<void>('parked');
    const gs = [spawn(() => sleep(60_000)), spawn(() => sleep(60_000)), spawn(() => parked.get())];
    await idle();
    const metrics = hubMetrics();
    expect(metrics.greenlets).toBe(3);
    expect(metrics.waits).toEqual({ sleep: 2, parked: 1 });
    expect(metrics.idleTime).toBeGreaterThanOrEqual(0);
    expect(metrics.utilization).toBeGreaterThanOrEqual(0);
    expect(metrics.utilization).toBeLessThanOrEqual(1);
    await killall(gs);
    expect(hubMetrics().greenlets).toBe(0);
    expect(hubMetrics().waits).toEqual({});
  });

  it('hubMetrics idleTime grows while the hub waits', async () => {
    const before = hubMetrics().idleTime;
    await sleep(30);
    const after = hubMetrics();
    expect(after.idleTime).toBeGreaterThan(before);
    expect(after.utilization).toBeGreaterThanOrEqual(0);
    expect(after.utilization).toBeLessThanOrEqual(1);
  });
});
