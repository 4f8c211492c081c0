import { once } from 'node:events';
import { inspect } from 'node:util';
import { afterAll, afterEach, expect, it } from 'vitest';
import {
  type BlockingReport,
  blockedChannel,
  configure,
  getHub,
  monitor,
  resetHub,
  sleep,
  spawn,
} from '../src/index.js';
import { describeEachHub } from '../src/testing/index.js';
import { CORE_URL, describeEachChildHub, runScript, scratchDir } from './helpers/child.js';

/** The blocking function the reports must name. */
function spinFor(ms: number): number {
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) n++;
  return n;
}

async function monitorOn(maxBlockingTime = 100): Promise<BlockingReport[]> {
  configure({ monitor: { maxBlockingTime, print: false } });
  getHub();
  expect(await monitor.ready()).toBe(true);
  return collect();
}

function collect(): BlockingReport[] {
  const reports: BlockingReport[] = [];
  monitor.on('blocked', (r) => reports.push(r));
  return reports;
}

/** Wait (bounded) for the next report: it arrives once the loop runs again. */
async function nextReport(): Promise<BlockingReport> {
  const [report] = (await once(monitor, 'blocked', { signal: AbortSignal.timeout(3000) })) as [
    BlockingReport,
  ];
  return report;
}

describeEachHub('blocking monitor', () => {
  afterEach(() => {
    configure({ monitor: false });
    monitor.removeAllListeners('blocked');
  });

  it.skipIf(process.env.GREENHUB_MONITOR === '1')(
    'is off by default: no watchdog thread exists',
    async () => {
      const g = spawn(() => sleep(1));
      await g.join();
      expect(monitor.running).toBe(false);
      expect(monitor.threadId).toBeUndefined();
      expect(await monitor.ready()).toBe(false);
    },
  );

  it('reports a greenlet that blocks the loop, with its name and the blocking frame, within 2x the threshold', async () => {
    // 200 ms rather than the default 100: the capture (a thread waking, an inspector session) takes a
    // few tens of ms that a loaded CI machine can stretch, and 2x of 100 ms leaves it only 75.
    await monitorOn(200);
    const pending = nextReport();
    let blockedAt = 0;
    const g = spawn(function crawl() {
      blockedAt = Date.now();
      spinFor(700);
    });
    await g.join();
    const report = await pending;
    expect(report.greenlet).toBe(g.name);
    expect(report.greenlet).toMatch(/^crawl#\d+$/);
    expect(report.greenletId).toBe(g.id);
    expect(report.stack[0]).toMatch(/spinFor/);
    expect(report.stack.some((f) => f.includes('crawl'))).toBe(true);
    expect(report.blockedMs).toBeGreaterThanOrEqual(200);
    // Taken while still blocked: within 2x the threshold of the block's start, not at its end (700 ms).
    expect(report.at.getTime() - blockedAt).toBeLessThan(400);
  });

  it("names the greenlet when the loop blocks inside Node's own modules", async () => {
    await monitorOn(100);
    const big = Array.from({ length: 2000 }, (_, i) => ({ i, o: { a: [1, 2, 3] } }));
    const pending = nextReport();
    const g = spawn(function formatter() {
      const end = Date.now() + 350;
      while (Date.now() < end) inspect(big, { depth: 4 });
    });
    await g.join();
    const report = await pending;
    expect(report.greenlet).toBe(g.name);
    expect(report.stack.some((f) => f.includes('node:internal/util/inspect'))).toBe(true);
  });

  it('reports each blocking episode once, and nothing when nothing blocks', async () => {
    const reports = await monitorOn(100);
    const sleepers = [1, 2, 3].map((n) =>
      spawn(async function napper() {
        for (let i = 0; i < 25; i++) await sleep(n * 4);
      }),
    );
    for (const g of sleepers) await g.join();
    await sleep(300);
    expect(reports).toEqual([]);
    const pending = nextReport();
    const g = spawn(function blocker() {
      spinFor(450);
    });
    await g.join();
    await pending;
    await sleep(250);
    expect(reports.map((r) => r.greenlet)).toEqual([g.name]);
  });

  it('names main when the loop blocks outside any greenlet, and publishes on greenhub:blocked', async () => {
    await monitorOn(50);
    const published: unknown[] = [];
    const onBlocked = (r: unknown): void => {
      published.push(r);
    };
    blockedChannel.subscribe(onBlocked);
    try {
      const pending = nextReport();
      spinFor(250);
      const report = await pending;
      expect(report.greenlet).toBe('main');
      expect(report.stack[0]).toMatch(/spinFor/);
      expect(published).toEqual([report]);
    } finally {
      blockedChannel.unsubscribe(onBlocked);
    }
  });

  it('configure rejects a threshold that is not a positive number of ms', () => {
    const running = monitor.running;
    expect(() => configure({ monitor: { maxBlockingTime: 0 } })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(() => configure({ metrics: { interval: -1 } })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(monitor.running).toBe(running);
  });

  it('stops with the hub (resetHub) and starts again with the next one', async () => {
    await monitorOn(100);
    const first = monitor.threadId;
    expect(first).toBeGreaterThan(0);
    resetHub();
    expect(monitor.running).toBe(false);
    getHub();
    expect(monitor.running).toBe(true);
    expect(monitor.threadId).not.toBe(first);
    expect(await monitor.ready()).toBe(true);
  });
});

describeEachChildHub('blocking monitor (child process)', (hub) => {
  const scratch = scratchDir(`monitor-${hub}`);
  afterAll(() => scratch.remove());

  it('GREENHUB_MONITOR=1 prints the report on stderr and does not keep the process alive', async () => {
    const result = await runScript(
      scratch.dir,
      'monitor-env.mjs',
      [
        `import { formatBlockingReport, monitor, spawn, sleep } from ${JSON.stringify(CORE_URL)};`,
        'function spinFor(ms) { const end = Date.now() + ms; while (Date.now() < end); }',
        'const g = spawn(async function crawl() { await sleep(1); await monitor.ready(); spinFor(300); });',
        "const got = new Promise((resolve) => monitor.once('blocked', resolve));",
        'const keepAlive = setTimeout(() => {}, 5000);',
        'await g.join();',
        'const report = await got;',
        'clearTimeout(keepAlive);',
        'process.stdout.write(formatBlockingReport(report));',
        '',
      ].join('\n'),
      { env: { GREENHUB_HUB: hub, GREENHUB_MONITOR: '1' }, timeoutMs: 10_000 },
    );
    expect(result.timedOut).toBe(false);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(
      /greenlet crawl#\d+ blocked the event loop for \d+ ms \(more than 100 ms\)\n {4}at spinFor/,
    );
    // The worker's text and formatBlockingReport() agree.
    expect(result.stderr).toBe(result.stdout);
  });

  it('prints the report while the loop is still blocked, even if it never unblocks', async () => {
    const result = await runScript(
      scratch.dir,
      'monitor-stuck.mjs',
      [
        `import { configure, getHub, monitor, spawn, sleep } from ${JSON.stringify(CORE_URL)};`,
        'configure({ monitor: { maxBlockingTime: 50 } });',
        'getHub();',
        'await monitor.ready();',
        // Stands for a loop that never ends: the process exits from inside it.
        'spawn(function stuck() { const end = Date.now() + 1000; while (Date.now() < end); process.exit(3); });',
        'await sleep(60_000);',
        '',
      ].join('\n'),
      { env: { GREENHUB_HUB: hub }, timeoutMs: 10_000 },
    );
    expect(result.timedOut).toBe(false);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(
      /greenlet stuck#\d+ blocked the event loop for \d+ ms \(more than 50 ms\)\n {4}at stuck/,
    );
  });
});
