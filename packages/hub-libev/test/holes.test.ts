import { describe, expect, it } from 'vitest';
import { describeChild, runFixture } from './helpers/child.js';

interface Holes {
  b12: number;
  b13: number;
  b14: number;
  b15: number;
}

async function runHoles(naive: boolean): Promise<Holes> {
  const result = await runFixture('holes.mjs', 15_000, { GREENHUB_LIBEV_NAIVE: naive ? '1' : '0' });
  if (result.code !== 0) throw new Error(`holes fixture failed: ${describeChild(result)}`);
  return JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as Holes;
}

// Node's APIs open fds lazily registered with epoll; libev must not block on an
// epoll set that misses them. Each event must come far sooner than the active 1 s hub timer.
describe('fds Node opened while the hub blocks are polled at once (LIBEV.md b12–b15)', () => {
  it('net.connect from setTimeout and setImmediate, an accepted socket and a child pipe all see their first event fast', async () => {
    const holes = await runHoles(false);
    expect(holes.b12, `b12 net.connect from setTimeout (${JSON.stringify(holes)})`).toBeLessThan(300);
    expect(holes.b13, `b13 net.connect from setImmediate (${JSON.stringify(holes)})`).toBeLessThan(300);
    expect(holes.b14, `b14 socket accepted by node:net (${JSON.stringify(holes)})`).toBeLessThan(300);
    expect(holes.b15, `b15 child stdout pipe (${JSON.stringify(holes)})`).toBeLessThan(300);
  });

  // Proves each check above can fail. Naive mode stalls only while nothing else wakes libev, and on
  // a busy machine something occasionally does, so each check gets up to three naive runs to stall.
  it('the same checks fail in naive mode, which ignores fds libuv has not registered yet', async () => {
    const stalled = new Set<string>();
    const runs: Holes[] = [];
    for (let attempt = 0; attempt < 3 && stalled.size < 4; attempt++) {
      const holes = await runHoles(true);
      runs.push(holes);
      for (const [name, ms] of Object.entries(holes)) if (ms > 600) stalled.add(name);
    }
    expect([...stalled].sort(), `naive mode stalls until the hub timer (${JSON.stringify(runs)})`).toEqual([
      'b12',
      'b13',
      'b14',
      'b15',
    ]);
  }, 60_000);
});
