import { describe, expect, it } from 'vitest';
import { describeChild, runChild } from './helpers/child.js';

// Run with --expose-gc in a child: active watchers are held natively, stopped ones are not.
describe('garbage collection', () => {
  it('an active, unreferenced-by-JS timer fires under constant gc()', async () => {
    const r = await runChild(
      `
      const hub = createHub();
      let fired = 0;
      for (let i = 0; i < 10; i++) hub.timer(20 + i * 5).start(() => { fired++; });
      const churn = setInterval(() => { gc(); }, 1);
      hub.timer(200).start(() => { clearInterval(churn); say('fired ' + fired); });
    `,
      { nodeArgs: ['--expose-gc'] },
    );
    expect(r.code, describeChild(r)).toBe(0);
    expect(r.stdout).toBe('fired 10\n');
  });

  // Finalizers of N-API objects run a batch at a time after each GC, so the
  // timers are made in batches with GC and a loop turn in between, as in real programs.
  it('20,000 stopped timers whose callbacks close over them are collected', async () => {
    const r = await runChild(
      `
      const hub = createHub();
      let collected = 0;
      const registry = new FinalizationRegistry(() => { collected++; });
      const turn = () => new Promise((r) => setTimeout(r, 1));
      for (let batch = 0; batch < 20; batch++) {
        for (let i = 0; i < 1000; i++) {
          const t = hub.timer(1000);
          t.start(() => t.stop());
          t.stop();
          registry.register(t, i);
        }
        gc();
        await turn();
      }
      for (let round = 0; round < 200 && collected < 20000; round++) {
        gc();
        await turn();
      }
      say('collected ' + collected);
    `,
      { nodeArgs: ['--expose-gc'] },
    );
    expect(r.code, describeChild(r)).toBe(0);
    expect(Number(/collected (\d+)/.exec(r.stdout)?.[1])).toBeGreaterThanOrEqual(19_900);
  });
});
