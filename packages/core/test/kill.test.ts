import { setTimeout as hostSleep } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { Greenlet, GreenletExit, getcurrent, idle, sleep, spawn, spawnLater, Waiter } from '../src/index.js';
import { captureReportedErrors, describeEachHub } from '../src/testing/index.js';

class Shutdown extends Error {
  override name = 'Shutdown';
}

/** Spawn a greenlet that records what its wait threw, then rethrows it. */
function spawnCatching(wait: () => Promise<unknown>): { g: Greenlet<unknown>; caught: unknown[] } {
  const caught: unknown[] = [];
  const g = spawn(async () => {
    try {
      await wait();
    } catch (err) {
      caught.push(err);
      throw err;
    }
  });
  return { g, caught };
}

describeEachHub('kill', () => {
  const reported = captureReportedErrors();

  it('kill() throws GreenletExit into a greenlet blocked in sleep()', async () => {
    const { g, caught } = spawnCatching(() => sleep(60_000));
    await idle();
    expect(g.waitingOn).toBe('sleep');
    await g.kill();
    expect(g.dead).toBe(true);
    expect(caught).toHaveLength(1);
    expect(caught[0]).toBeInstanceOf(GreenletExit);
  });

  it('kill() throws GreenletExit into a greenlet blocked joining another greenlet', async () => {
    const release = new Waiter<void>('release');
    const target = spawn(() => release.get());
    const { g, caught } = spawnCatching(() => target.join());
    await idle();
    expect(g.waitingOn).toBe('join');
    await g.kill();
    expect(caught[0]).toBeInstanceOf(GreenletExit);
    // Only the joiner was killed.
    expect(target.dead).toBe(false);
    release.switch();
    expect(await target.join(1000)).toBe(true);
  });

  it('kill() throws GreenletExit into a greenlet blocked in Waiter.get()', async () => {
    const waiter = new Waiter<string>('custom wait');
    const { g, caught } = spawnCatching(() => waiter.get());
    await idle();
    expect(g.waitingOn).toBe('custom wait');
    await g.kill();
    expect(caught[0]).toBeInstanceOf(GreenletExit);
  });

  it('ending with GreenletExit is a success: successful() is true and the value is the GreenletExit', async () => {
    const g = spawn(() => sleep(60_000));
    await idle();
    await g.kill();
    expect(g.successful()).toBe(true);
    expect(g.value).toBeInstanceOf(GreenletExit);
    expect(g.exception).toBeUndefined();
    expect(await g.get()).toBe(g.value);
    expect(reported).toEqual([]);
  });

  it('a greenlet that throws GreenletExit itself also ends successfully', async () => {
    const exit = new GreenletExit('done early');
    const g = spawn(async () => {
      await sleep(0);
      throw exit;
    });
    expect(await g.get()).toBe(exit);
    expect(g.successful()).toBe(true);
    expect(reported).toEqual([]);
  });

  it('kill() interrupts sleep(0) too', async () => {
    const observed = new Waiter<void>('observer');
    const g: Greenlet<void> = spawn(async () => {
      spawn(async () => {
        await g.kill(undefined, { block: false });
        observed.switch();
      });
      await sleep(0);
      throw new Error('sleep(0) returned normally');
    });
    await observed.get({ timeout: 1000 });
    expect(await g.join(1000)).toBe(true);
    expect(g.value).toBeInstanceOf(GreenletExit);
  });

  it('a greenlet that catches GreenletExit and returns a value ends with that value', async () => {
    const g = spawn(async () => {
      try {
        await sleep(60_000);
      } catch (err) {
        if (!(err instanceof GreenletExit)) throw err;
        return 'cleaned up';
      }
    });
    await idle();
    await g.kill();
    expect(g.successful()).toBe(true);
    expect(g.value).toBe('cleaned up');
  });

  it('kill(error) makes the greenlet fail with that error', async () => {
    const error = new Shutdown('stop now');
    const g = spawn(() => sleep(60_000));
    await idle();
    await g.kill(error);
    expect(g.successful()).toBe(false);
    expect(g.exception).toBe(error);
    await expect(g.get()).rejects.toBe(error);
    expect(reported).toEqual([error]);
  });

  it('kill(ErrorClass) throws a new instance of that class', async () => {
    const g = spawn(() => sleep(60_000));
    await idle();
    await g.kill(Shutdown);
    expect(g.exception).toBeInstanceOf(Shutdown);
  });

  it('killing a greenlet that has not started means its function never runs, and its links still fire', async () => {
    let ran = false;
    const linked: string[] = [];
    const g = spawn(() => {
      ran = true;
    });
    g.rawlink(() => linked.push('rawlink'));
    g.link(() => {
      linked.push('link');
    });
    await g.kill();
    expect(g.dead).toBe(true);
    expect(g.successful()).toBe(true);
    expect(g.value).toBeInstanceOf(GreenletExit);
    await idle();
    expect(ran).toBe(false);
    expect(linked).toEqual(['rawlink', 'link']);
  });

  it('killing a spawnLater greenlet before its delay means it never runs and leaves no timer behind', async () => {
    let ran = false;
    const g = spawnLater(50, () => {
      ran = true;
    });
    await g.kill();
    expect(g.dead).toBe(true);
    expect(ran).toBe(false);
    // describeEachHub's clean check fails if the start timer is still active.
  });

  it('a Greenlet killed before start() stays dead: start() then does nothing', async () => {
    let ran = false;
    const g = new Greenlet(() => {
      ran = true;
    });
    await g.kill();
    expect(g.dead).toBe(true);
    g.start();
    await idle();
    expect(ran).toBe(false);
  });

  it('kill({ block: false }) returns before the greenlet has died', async () => {
    const g = spawn(async () => {
      try {
        await sleep(60_000);
      } finally {
        await sleep(5);
      }
    });
    await idle();
    await g.kill(undefined, { block: false });
    expect(g.dead).toBe(false);
    expect(await g.join(1000)).toBe(true);
    expect(g.value).toBeInstanceOf(GreenletExit);
  });

  it('kill({ timeout }) on a greenlet that catches GreenletExit and keeps going returns after the timeout', async () => {
    let giveUp = false;
    const diehard = spawn(async () => {
      for (;;) {
        try {
          await sleep(60_000);
        } catch (err) {
          if (giveUp) throw err;
        }
      }
    });
    await idle();
    const started = performance.now();
    await diehard.kill(undefined, { timeout: 30 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(30);
    expect(diehard.dead).toBe(false);
    giveUp = true;
    await diehard.kill();
    expect(diehard.dead).toBe(true);
  });

  it('kill({ timeout }) returns as soon as the greenlet has died, not after the timeout', async () => {
    const g = spawn(() => sleep(60_000));
    await idle();
    const started = performance.now();
    await g.kill(undefined, { timeout: 5000 });
    expect(performance.now() - started).toBeLessThan(1000);
    expect(g.dead).toBe(true);
  });

  it('a greenlet killed while awaiting a non-greenhub promise gets the error at its next greenhub wait', async () => {
    let release!: () => void;
    const outside = new Promise<void>((resolve) => {
      release = resolve;
    });
    const log: string[] = [];
    const g = spawn(async () => {
      await outside;
      log.push('resumed');
      try {
        await sleep(60_000);
        log.push('slept');
      } catch (err) {
        log.push(err instanceof GreenletExit ? 'GreenletExit at sleep' : String(err));
        throw err;
      }
    });
    await idle();
    expect(g.waitingOn).toBeUndefined();
    await g.kill(undefined, { block: false });
    expect(g.dead).toBe(false);
    release();
    expect(await g.join(1000)).toBe(true);
    expect(log).toEqual(['resumed', 'GreenletExit at sleep']);
  });

  it('g.signal is aborted on kill, with the kill error as its reason', async () => {
    const g = spawn(() => sleep(60_000));
    const signal = g.signal;
    await idle();
    expect(signal.aborted).toBe(false);
    const error = new Shutdown('bye');
    await g.kill(error);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(error);
    // Asked for after the kill, it is already aborted.
    const late = spawn(() => sleep(60_000));
    await idle();
    await late.kill();
    expect(late.signal.aborted).toBe(true);
    expect(late.signal.reason).toBeInstanceOf(GreenletExit);
  });

  it('a host API given g.signal stops waiting when the greenlet is killed', async () => {
    const g = spawn(async () => {
      try {
        await hostSleep(60_000, undefined, { signal: getcurrent().signal });
      } catch (err) {
        return (err as Error).name;
      }
    });
    await idle();
    await g.kill(undefined, { block: false });
    expect(await g.join(1000)).toBe(true);
    expect(g.value).toBe('AbortError');
  });

  it('killing a dead greenlet does nothing', async () => {
    const g = spawn(() => 'done');
    await g.join();
    await g.kill();
    await g.kill(new Shutdown('too late'));
    expect(g.successful()).toBe(true);
    expect(g.value).toBe('done');
    expect(reported).toEqual([]);
  });

  it('a greenlet can kill itself with getcurrent().kill()', async () => {
    const log: string[] = [];
    const g = spawn(async () => {
      log.push('before');
      await getcurrent().kill();
      log.push('after');
    });
    expect(await g.join(1000)).toBe(true);
    expect(log).toEqual(['before']);
    expect(g.successful()).toBe(true);
    expect(g.value).toBeInstanceOf(GreenletExit);
  });

  it('kill interrupts every wait the greenlet is blocked in at once', async () => {
    const first = new Waiter<void>('first');
    const second = new Waiter<void>('second');
    const g = spawn(() => Promise.all([first.get(), second.get(), sleep(60_000)]));
    await idle();
    await g.kill();
    expect(g.dead).toBe(true);
    expect(first.switch()).toBe(false);
    expect(second.switch()).toBe(false);
  });

  it('after a kill interrupts a wait nothing is left registered: no waitingOn, and the Waiter refuses a later switch()', async () => {
    const waiter = new Waiter<number>('interrupted');
    const log: string[] = [];
    const g = spawn(async () => {
      try {
        await waiter.get({ timeout: 60_000 });
      } finally {
        // Still inside the greenlet: the interrupted wait is already gone.
        log.push(getcurrent().waitingOn ?? 'nothing');
      }
    });
    await idle();
    expect(g.waitingOn).toBe('interrupted');
    expect(waiter.waiting).toBe(true);
    await g.kill();
    expect(log).toEqual(['nothing']);
    expect(g.waitingOn).toBeUndefined();
    expect(waiter.waiting).toBe(false);
    expect(waiter.switch(1)).toBe(false);
    // The wait's timer is gone too: describeEachHub's clean check finds no active hub work.
  });
});
