import { expect, it } from 'vitest';
import { type Greenlet, getcurrent, getHub, idle, sleep, spawn, Waiter } from '../src/index.js';
import { captureReportedErrors, describeEachHub } from '../src/testing/index.js';

describeEachHub('sleep and idle', () => {
  // Greenlets failing on purpose report to this list instead of stderr.
  captureReportedErrors();

  it('sleep(ms) never returns early', async () => {
    for (const ms of [1, 5, 15, 30]) {
      const started = performance.now();
      await sleep(ms);
      expect(performance.now() - started).toBeGreaterThanOrEqual(ms);
    }
  });

  it('sleep(ms) inside a greenlet never returns early either', async () => {
    const g = spawn(async () => {
      const started = performance.now();
      await sleep(20);
      return performance.now() - started;
    });
    expect(await g.get()).toBeGreaterThanOrEqual(20);
  });

  it('sleep(0) yields: every other ready greenlet runs before it returns', async () => {
    const pushed: number[] = [];
    for (const n of [1, 2, 3]) spawn(() => pushed.push(n));
    expect(pushed).toEqual([]);
    await sleep(0);
    expect(pushed).toEqual([1, 2, 3]);
  });

  it('sleep(0) also runs every hub callback scheduled before it', async () => {
    const log: string[] = [];
    const g = spawn(() => log.push('greenlet'));
    getHub().callback(() => log.push('hub callback'));
    await sleep(0);
    log.push('sleep returned');
    expect(log).toEqual(['greenlet', 'hub callback', 'sleep returned']);
    await g.join();
  });

  it('sleep() without an argument is sleep(0)', async () => {
    const pushed: string[] = [];
    spawn(() => pushed.push('ran'));
    await sleep();
    expect(pushed).toEqual(['ran']);
  });

  it('sleep(0) in a loop lets greenlets take turns', async () => {
    const log: string[] = [];
    const worker = async (name: string): Promise<void> => {
      for (let i = 0; i < 3; i++) {
        log.push(`${name}${i}`);
        await sleep(0);
      }
    };
    const a = spawn(worker, 'a');
    const b = spawn(worker, 'b');
    await Promise.all([a.join(), b.join()]);
    expect(log).toEqual(['a0', 'b0', 'a1', 'b1', 'a2', 'b2']);
  });

  it('while sleep(0) yields, the greenlet shows it is waiting on sleep', async () => {
    const observed = new Waiter<string | undefined>('observation');
    const g: Greenlet<void> = spawn(async () => {
      spawn(() => observed.switch(g.waitingOn));
      await sleep(0);
    });
    expect(await observed.get({ timeout: 1000 })).toBe('sleep');
    await g.join();
  });

  it('idle() resumes only after every other greenlet is blocked', async () => {
    const parked = [new Waiter<void>('parked'), new Waiter<void>('parked'), new Waiter<void>('parked')];
    let steps = 0;
    const greenlets = parked.map((waiter) =>
      spawn(async () => {
        for (let i = 0; i < 5; i++) {
          await sleep(0);
          steps++;
        }
        await waiter.get();
      }),
    );
    await idle();
    expect(steps).toBe(15);
    expect(greenlets.map((g) => g.waitingOn)).toEqual(['parked', 'parked', 'parked']);
    for (const waiter of parked) waiter.switch();
    for (const g of greenlets) expect(await g.join(1000)).toBe(true);
  });

  it('idle() waits for greenlets spawned while it waits', async () => {
    const log: string[] = [];
    spawn(() => {
      spawn(() => {
        spawn(() => log.push('grandchild'));
      });
    });
    await idle();
    expect(log).toEqual(['grandchild']);
  });

  it('idle() does not wait for timers: a sleeping greenlet counts as blocked', async () => {
    const g = spawn(() => sleep(60_000));
    const started = performance.now();
    await idle();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(g.waitingOn).toBe('sleep');
    await g.kill();
  });

  it('sleep(-1) throws a RangeError with code ERR_OUT_OF_RANGE', async () => {
    const error = await sleep(-1).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(RangeError);
    expect((error as { code?: string }).code).toBe('ERR_OUT_OF_RANGE');
    await expect(sleep(Number.NaN)).rejects.toThrow(RangeError);
  });

  it('sleep with an already aborted signal rejects at once with its reason', async () => {
    const reason = new Error('cancelled');
    await expect(sleep(60_000, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await expect(sleep(0, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(getcurrent().waitingOn).toBeUndefined();
  });

  it('sleep rejects with the reason when its signal aborts during the wait', async () => {
    const controller = new AbortController();
    const reason = new Error('cancelled');
    const g = spawn(() => sleep(60_000, { signal: controller.signal }));
    await idle();
    expect(g.waitingOn).toBe('sleep');
    controller.abort(reason);
    await expect(g.get()).rejects.toBe(reason);
  });

  it('many sleeps of a few lengths share a few hub timers and none returns early', async () => {
    const lengths = [1, 2, 3, 5, 8];
    const started = performance.now();
    const late: number[] = [];
    const sleeps = Array.from({ length: 2000 }, (_, i) => {
      const ms = lengths[i % lengths.length]!;
      return sleep(ms).then(() => late.push(performance.now() - started - ms));
    });
    // One hub timer per length, not one per sleep.
    expect(getHub().stats().active).toBeLessThanOrEqual(lengths.length + 1);
    await Promise.all(sleeps);
    expect(late).toHaveLength(2000);
    expect(Math.min(...late)).toBeGreaterThanOrEqual(0);
  });

  it('killing the first of several sleepers of one length does not delay or lose the others', async () => {
    const woke: string[] = [];
    const first = spawn(async () => {
      await sleep(30);
      woke.push('first');
    });
    await idle();
    const others = ['second', 'third'].map((name) =>
      spawn(async () => {
        await sleep(30);
        woke.push(name);
      }),
    );
    await idle();
    await first.kill();
    const started = performance.now();
    await Promise.all(others.map((g) => g.join()));
    expect(woke).toEqual(['second', 'third']);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
