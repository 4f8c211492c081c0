import { describe, expect, it } from 'vitest';
import type { Hub, Timer } from '../hub/index.js';
import { expectThrowsCode, type HubTest, type Suite, useHub } from './internal/harness.js';
import { deferred, Inbox, turns, until, within } from './internal/wait.js';

/**
 * The hub clock may count whole milliseconds (libuv and libev do), so against
 * Node's `performance.now()` a timer may look up to this much early. Against
 * the hub's own clock it may not be early at all.
 */
const CLOCK_GRANULARITY_MS = 1;

function timer(t: HubTest, afterMs: number, repeatMs?: number): Timer {
  const created = repeatMs === undefined ? t.hub.timer(afterMs) : t.hub.timer(afterMs, repeatMs);
  t.defer(() => created.close());
  return created;
}

/** Elapsed time on both clocks since a start mark. */
function stopwatch(hub: Hub): () => { hub: number; wall: number } {
  hub.updateNow();
  const hubStart = hub.now();
  const wallStart = performance.now();
  return () => {
    hub.updateNow();
    return { hub: hub.now() - hubStart, wall: performance.now() - wallStart };
  };
}

export function timers(suite: Suite): void {
  describe('timers', () => {
    const t = useHub(suite);

    it('hub.now() is monotonic and follows real time after updateNow()', async () => {
      const { hub } = t();
      hub.updateNow();
      const a = hub.now();
      const wallStart = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 30));
      hub.updateNow();
      const b = hub.now();
      const wall = performance.now() - wallStart;
      expect(b).toBeGreaterThanOrEqual(a);
      expect(b - a).toBeGreaterThanOrEqual(wall - 2 * CLOCK_GRANULARITY_MS);
      expect(b - a).toBeLessThanOrEqual(wall + 2 * CLOCK_GRANULARITY_MS);
    });

    it('a timer never fires before its time (50 timers of 1 to 30 ms)', async () => {
      const { hub } = t();
      const early: string[] = [];
      let fired = 0;
      for (let i = 0; i < 50; i++) {
        const afterMs = 1 + (i % 30);
        const one = timer(t(), afterMs);
        const elapsed = stopwatch(hub);
        one.start(() => {
          fired++;
          const { hub: onHub, wall } = elapsed();
          if (onHub < afterMs || wall < afterMs - CLOCK_GRANULARITY_MS) {
            early.push(
              `timer(${afterMs}) fired after ${onHub.toFixed(3)} ms (hub) / ${wall.toFixed(3)} ms (wall)`,
            );
          }
        });
      }
      await until(
        () => fired === 50,
        'all 50 timers',
        2000,
        () => `${fired} fired`,
      );
      expect(early).toEqual([]);
    });

    it('a timer started after the loop sat idle still waits its full time', async () => {
      const { hub } = t();
      // Let the hub's cached time go stale: a hub that starts timers from it fires early.
      hub.updateNow();
      hub.now();
      await new Promise((resolve) => setTimeout(resolve, 60));
      const wallStart = performance.now();
      const one = timer(t(), 40);
      const fired = deferred<number>();
      one.start(() => fired.resolve(performance.now() - wallStart));
      const wall = await within(2000, 'timer(40)', fired.promise);
      expect(wall).toBeGreaterThanOrEqual(40 - CLOCK_GRANULARITY_MS);
    });

    it('a timer started after a long synchronous stretch still waits its full time', async () => {
      const { hub } = t();
      const fired = deferred<number>();
      hub.callback(() => {
        const busyUntil = performance.now() + 40;
        while (performance.now() < busyUntil) {
          // Block the loop, as a CPU-heavy callback would.
        }
        const wallStart = performance.now();
        const one = timer(t(), 30);
        one.start(() => fired.resolve(performance.now() - wallStart));
      });
      const wall = await within(2000, 'timer(30)', fired.promise);
      expect(wall).toBeGreaterThanOrEqual(30 - CLOCK_GRANULARITY_MS);
    });

    it('timers with the same delay fire in the order they were started', async () => {
      const order: number[] = [];
      for (let i = 0; i < 20; i++) timer(t(), 5).start(() => order.push(i));
      await until(() => order.length === 20, '20 timers', 2000);
      expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
    });

    it('a shorter timer started later fires before a longer one started earlier', async () => {
      const order: string[] = [];
      timer(t(), 40).start(() => order.push('long'));
      timer(t(), 5).start(() => order.push('short'));
      await until(() => order.length === 2, 'both timers', 2000);
      expect(order).toEqual(['short', 'long']);
    });

    it('a timer of 0 ms fires on a later turn, not synchronously', async () => {
      let fired = false;
      const done = deferred();
      timer(t(), 0).start(() => {
        fired = true;
        done.resolve();
      });
      expect(fired).toBe(false);
      await within(1000, 'timer(0)', done.promise);
    });

    it('a repeating timer fires again every repeatMs and never early', async () => {
      const { hub } = t();
      const repeating = timer(t(), 10, 15);
      const elapsed = stopwatch(hub);
      const times: number[] = [];
      repeating.start(() => {
        times.push(elapsed().hub);
        if (times.length === 5) repeating.stop();
      });
      await until(() => times.length === 5, 'five firings', 2000);
      for (const [k, at] of times.entries())
        expect(at, `firing ${k + 1}`).toBeGreaterThanOrEqual(10 + 15 * k);
      expect(repeating.active).toBe(false);
      await turns(hub);
      expect(times).toHaveLength(5);
    });

    it('a repeating timer stays active inside its callback', async () => {
      const repeating = timer(t(), 1, 1);
      const seen = deferred<boolean>();
      repeating.start(() => {
        seen.resolve(repeating.active);
        repeating.stop();
      });
      expect(await within(1000, 'the first firing', seen.promise)).toBe(true);
    });

    it('a one-shot timer is inactive inside its callback and can restart itself', async () => {
      const { hub } = t();
      const one = timer(t(), 2);
      const seen: Array<{ active: boolean; stats: ReturnType<Hub['stats']> }> = [];
      one.start(function again() {
        seen.push({ active: one.active, stats: hub.stats() });
        if (seen.length < 3) one.start(again);
      });
      await until(() => seen.length === 3, 'three firings of a self-restarting timer', 2000);
      for (const s of seen) {
        expect(s.active, 'timer.active inside its own callback').toBe(false);
        expect(s.stats.active, 'hub.stats().active inside the only timer callback').toBe(0);
      }
      expect(one.active).toBe(false);
    });

    it('stop() keeps a timer from firing, and stop() twice is harmless', async () => {
      const { hub } = t();
      let fired = false;
      const one = timer(t(), 5);
      one.start(() => {
        fired = true;
      });
      expect(one.active).toBe(true);
      one.stop();
      one.stop();
      expect(one.active).toBe(false);
      const later = deferred();
      timer(t(), 20).start(() => later.resolve());
      await within(2000, 'a later timer', later.promise);
      await turns(hub);
      expect(fired).toBe(false);
    });

    it('a stopped timer can be started again', async () => {
      const one = timer(t(), 5);
      one.start(() => undefined);
      one.stop();
      const fired = deferred();
      one.start(() => fired.resolve());
      await within(1000, 'the restarted timer', fired.promise);
    });

    it('start() on an active timer replaces its callback and restarts it from now', async () => {
      const { hub } = t();
      const calls: string[] = [];
      const one = timer(t(), 30);
      one.start(() => calls.push('first'));
      const wait = deferred();
      timer(t(), 15).start(() => wait.resolve());
      await within(1000, 'timer(15)', wait.promise);
      const elapsed = stopwatch(hub);
      const fired = deferred<number>();
      one.start(() => {
        calls.push('second');
        fired.resolve(elapsed().hub);
      });
      const at = await within(1000, 'the restarted timer', fired.promise);
      expect(calls).toEqual(['second']);
      expect(at).toBeGreaterThanOrEqual(30);
    });

    it('again() pushes the deadline back by the full delay', async () => {
      const { hub } = t();
      const one = timer(t(), 40);
      let calls = 0;
      let sinceAgain = stopwatch(hub);
      const fired = deferred<number>();
      one.start(() => {
        calls++;
        fired.resolve(sinceAgain().hub);
      });
      for (let i = 0; i < 3; i++) {
        const step = deferred();
        timer(t(), 20).start(() => step.resolve());
        await within(1000, 'timer(20)', step.promise);
        one.again();
        sinceAgain = stopwatch(hub);
      }
      const waited = await within(1000, 'the timer after again()', fired.promise);
      expect(calls).toBe(1);
      expect(waited, 'time from the last again() to the firing').toBeGreaterThanOrEqual(40);
    });

    it('again() re-arms a fired one-shot timer with its callback', async () => {
      const fired = new Inbox<number>();
      const one = timer(t(), 5);
      one.start(() => fired.push(1));
      await fired.next('the first firing');
      one.again();
      expect(one.active).toBe(true);
      await fired.next('the firing after again()');
    });

    it('again() on a timer that was never started throws ERR_INVALID_STATE', () => {
      const one = timer(t(), 5);
      expectThrowsCode(() => one.again(), 'ERR_INVALID_STATE', 'again() before start()');
      expect(one.active).toBe(false);
    });

    it('a closed timer never fires, start() then throws ERR_HUB_CLOSED, and close() twice is harmless', async () => {
      const { hub } = t();
      let fired = false;
      const one = timer(t(), 5);
      one.start(() => {
        fired = true;
      });
      one.close();
      one.close();
      expect(one.active).toBe(false);
      expectThrowsCode(() => one.start(() => undefined), 'ERR_HUB_CLOSED', 'start() after close()');
      one.stop();
      const later = deferred();
      timer(t(), 20).start(() => later.resolve());
      await within(1000, 'a later timer', later.promise);
      await turns(hub);
      expect(fired).toBe(false);
    });

    it('a timer closed by another timer due at the same moment never fires', async () => {
      const { hub } = t();
      const fired: string[] = [];
      const first = timer(t(), 5);
      const second = timer(t(), 5);
      first.start(() => {
        fired.push('first');
        second.close();
      });
      second.start(() => fired.push('second'));
      const later = deferred();
      timer(t(), 25).start(() => later.resolve());
      await within(1000, 'a later timer', later.promise);
      await turns(hub);
      expect(fired).toEqual(['first']);
    });

    it('a repeating timer closed inside its callback never fires again', async () => {
      const { hub } = t();
      let calls = 0;
      const repeating = timer(t(), 1, 1);
      repeating.start(() => {
        calls++;
        repeating.close();
      });
      await until(() => calls > 0, 'the first firing', 1000);
      const later = deferred();
      timer(t(), 10).start(() => later.resolve());
      await within(1000, 'a later timer', later.promise);
      await turns(hub);
      expect(calls).toBe(1);
    });

    it('ref() and unref() move a started timer in and out of the referenced count', () => {
      const { hub } = t();
      const one = timer(t(), 1000);
      one.start(() => undefined);
      expect(hub.stats()).toMatchObject({ active: 1, referenced: 1 });
      one.unref();
      expect(hub.stats()).toMatchObject({ active: 1, referenced: 0 });
      one.ref();
      expect(hub.stats()).toMatchObject({ active: 1, referenced: 1 });
      one.stop();
      expect(hub.stats()).toMatchObject({ active: 0, referenced: 0 });
      one.unref();
      one.start(() => undefined);
      expect(hub.stats(), 'a timer unref()ed before start()').toMatchObject({ active: 1, referenced: 0 });
      one.close();
      expect(hub.stats()).toMatchObject({ active: 0, referenced: 0 });
    });

    it('an unreferenced timer still fires while other work keeps the process alive', async () => {
      const one = timer(t(), 5);
      one.unref();
      const fired = deferred();
      one.start(() => fired.resolve());
      const keepAlive = setTimeout(() => undefined, 2000);
      try {
        await within(1000, 'the unreferenced timer', fired.promise);
      } finally {
        clearTimeout(keepAlive);
      }
    });

    it('an exception thrown by a timer callback goes to onError, and a repeating timer keeps firing', async () => {
      let calls = 0;
      const repeating = timer(t(), 1, 2);
      repeating.start(() => {
        calls++;
        if (calls === 1) throw new Error('boom in a timer');
        if (calls === 3) repeating.stop();
      });
      await until(() => calls === 3, 'three firings', 2000);
      const reported = t().takeErrors();
      expect(reported).toHaveLength(1);
      expect(reported[0]?.error).toBeInstanceOf(Error);
      expect(String(reported[0]?.error)).toContain('boom in a timer');
      expect(reported[0]?.context).toMatch(/\S/);
    });
  });
}
