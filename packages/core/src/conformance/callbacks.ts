import { describe, expect, it } from 'vitest';
import { currentGreenlet, runAs } from '../internal/current.js';
import { type Suite, useHub } from './internal/harness.js';
import { deferred, turns, until, within } from './internal/wait.js';

/** hub.callback(): gevent's run_callback. */
export function callbacks(suite: Suite): void {
  describe('callbacks', () => {
    const t = useHub(suite);

    it('a callback never runs synchronously', async () => {
      const { hub } = t();
      const done = deferred();
      let ran = false;
      hub.callback(() => {
        ran = true;
        done.resolve();
      });
      expect(ran, 'callback ran inside hub.callback()').toBe(false);
      await within(1000, 'the callback', done.promise);
    });

    it('callbacks run in the order they were scheduled', async () => {
      const { hub } = t();
      const order: number[] = [];
      for (let i = 0; i < 100; i++) hub.callback(() => order.push(i));
      await until(() => order.length === 100, '100 callbacks', 1000);
      expect(order).toEqual(Array.from({ length: 100 }, (_, i) => i));
    });

    it('promise reactions and nextTicks queued by a callback run before the next callback, as with setImmediate', async () => {
      const { hub } = t();
      const order: string[] = [];
      hub.callback(() => {
        order.push('A');
        process.nextTick(() => order.push('A.tick'));
        void Promise.resolve().then(() => {
          order.push('A.then');
          return Promise.resolve().then(() => order.push('A.then.then'));
        });
      });
      hub.callback(() => order.push('B'));
      await until(() => order.length === 5, 'both callbacks and their microtasks', 1000);
      // A greenlet woken by a callback runs before the next callback, on every hub (gevent switches at once).
      expect(order).toEqual(['A', 'A.tick', 'A.then', 'A.then.then', 'B']);
    });

    it('callbacks and timers run outside any greenlet, even when scheduled from one of its promise reactions', async () => {
      // Core's run queue and sync's link callbacks rely on it: they run as `main`, as gevent's run in the hub.
      const { hub } = t();
      const greenlet = { name: 'scheduling greenlet' };
      const seen: Array<[string, unknown]> = [];
      const done = deferred();
      const timer = hub.timer(1);
      runAs(greenlet, () => {
        seen.push(['greenlet', currentGreenlet()]);
        hub.callback(() => seen.push(['callback', currentGreenlet()]));
        void Promise.resolve().then(() => {
          seen.push(['reaction', currentGreenlet()]);
          hub.callback(() => seen.push(['callback from a reaction', currentGreenlet()]));
          timer.start(() => {
            seen.push(['timer from a reaction', currentGreenlet()]);
            done.resolve();
          });
        });
      }, []);
      await within(1000, 'the timer', done.promise);
      timer.close();
      expect(seen).toEqual([
        ['greenlet', greenlet],
        ['reaction', greenlet],
        ['callback', undefined],
        ['callback from a reaction', undefined],
        ['timer from a reaction', undefined],
      ]);
    });

    it('a cancelled callback never runs, and cancel() is idempotent', async () => {
      const { hub } = t();
      const order: string[] = [];
      hub.callback(() => order.push('a'));
      const b = hub.callback(() => order.push('b'));
      hub.callback(() => order.push('c'));
      b.cancel();
      b.cancel();
      await until(() => order.length >= 2, 'the two callbacks left', 1000);
      await turns(hub);
      expect(order).toEqual(['a', 'c']);
    });

    it('cancel() after a callback ran does nothing', async () => {
      const { hub } = t();
      let runs = 0;
      const handle = hub.callback(() => runs++);
      await until(() => runs === 1, 'the callback', 1000);
      handle.cancel();
      await turns(hub);
      expect(runs).toBe(1);
    });

    it('a callback cancelled by an earlier callback of the same turn does not run', async () => {
      const { hub } = t();
      const order: string[] = [];
      let b: { cancel(): void } | undefined;
      hub.callback(() => {
        order.push('a');
        b?.cancel();
      });
      b = hub.callback(() => order.push('b'));
      hub.callback(() => order.push('c'));
      await until(() => order.length >= 2, 'the callbacks', 1000);
      await turns(hub);
      expect(order).toEqual(['a', 'c']);
    });

    it('a callback that closes the hub keeps the callbacks queued after it from running', async () => {
      const { hub } = t();
      const order: string[] = [];
      hub.callback(() => {
        order.push('a');
        hub.close();
      });
      hub.callback(() => order.push('b'));
      hub.callback(() => order.push('c'));
      await until(() => order.length >= 1, 'the first callback', 1000);
      for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(order).toEqual(['a']);
    });

    it('a callback scheduled from a callback runs after those already queued', async () => {
      const { hub } = t();
      const order: string[] = [];
      hub.callback(() => {
        order.push('a');
        hub.callback(() => order.push('c'));
      });
      hub.callback(() => order.push('b'));
      await until(() => order.length === 3, 'three callbacks', 1000);
      expect(order).toEqual(['a', 'b', 'c']);
    });

    it('a callback scheduling itself again does not starve timers or Node', async () => {
      const { hub } = t();
      let spins = 0;
      let stop = false;
      const spin = (): void => {
        spins++;
        if (!stop && spins < 1_000_000) hub.callback(spin);
      };
      hub.callback(spin);
      const timer = hub.timer(5);
      t().defer(() => timer.close());
      const fired = deferred();
      timer.start(() => fired.resolve());
      const immediate = new Promise<void>((resolve) => setImmediate(resolve));
      try {
        await within(
          1000,
          'a hub timer and a setImmediate while callbacks keep rescheduling',
          Promise.all([fired.promise, immediate]),
        );
      } finally {
        stop = true;
      }
      expect(spins, 'the callback chain ran to its end before anything else could run').toBeLessThan(
        1_000_000,
      );
      await until(() => hub.stats().active === 0, 'the callback chain to stop', 1000);
    });

    it('a pending callback counts as active, referenced work until it runs', async () => {
      const { hub } = t();
      const done = deferred();
      hub.callback(() => done.resolve());
      expect(hub.stats().active).toBeGreaterThanOrEqual(1);
      expect(hub.stats().referenced).toBeGreaterThanOrEqual(1);
      await within(1000, 'the callback', done.promise);
      await until(() => hub.stats().active === 0, 'the callback to stop counting as active', 1000);
      const cancelled = hub.callback(() => undefined);
      cancelled.cancel();
      expect(hub.stats(), 'stats after cancel()').toMatchObject({ active: 0, referenced: 0 });
    });

    it('an exception thrown by a callback goes to onError with a context, and later callbacks still run', async () => {
      const { hub } = t();
      const boom = new Error('boom in a callback');
      const order: string[] = [];
      hub.callback(() => order.push('before'));
      hub.callback(() => {
        throw boom;
      });
      hub.callback(() => order.push('after'));
      await until(() => order.length === 2, 'the callbacks around the failing one', 1000);
      await until(() => t().errors.length > 0, 'onError', 1000);
      const reported = t().takeErrors();
      expect(reported).toHaveLength(1);
      expect(reported[0]?.error).toBe(boom);
      expect(typeof reported[0]?.context, 'onError context').toBe('string');
      expect(reported[0]?.context.length, 'onError context').toBeGreaterThan(0);
      expect(order).toEqual(['before', 'after']);
      const later = deferred();
      hub.callback(() => later.resolve());
      await within(1000, 'a callback scheduled after the failure', later.promise);
    });

    it('a non-Error thrown by a callback is reported as it was thrown', async () => {
      const { hub } = t();
      hub.callback(() => {
        throw 'a string';
      });
      await until(() => t().errors.length > 0, 'onError', 1000);
      expect(
        t()
          .takeErrors()
          .map((e) => e.error),
      ).toEqual(['a string']);
    });
  });
}
