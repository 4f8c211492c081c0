import { GreenletExit, idle, sleep, spawn, Timeout } from '@greenhub/core';
import { describeEachHub } from '@greenhub/core/testing';
import { expect, it } from 'vitest';
import { BoundedSemaphore, Lock, Semaphore } from '../src/semaphore.js';
import { spawnCatching } from './helpers.js';

describeEachHub('Semaphore', () => {
  it('starts with one permit by default; acquire() takes one and release() gives it back', async () => {
    const sem = new Semaphore();
    expect(sem.counter).toBe(1);
    expect(sem.locked()).toBe(false);
    expect(await sem.acquire()).toBe(true);
    expect(sem.counter).toBe(0);
    expect(sem.locked()).toBe(true);
    sem.release();
    expect(sem.counter).toBe(1);
  });

  it('a value that is not an integer >= 0 is refused with ERR_OUT_OF_RANGE', () => {
    expect(() => new Semaphore(-1)).toThrow(RangeError);
    expect(() => new Semaphore(1.5)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(new Semaphore(0).counter).toBe(0);
  });

  it('tryAcquire() and acquire({ blocking: false }) take a permit only if one is free, without waiting', async () => {
    const sem = new Semaphore(1);
    expect(sem.tryAcquire()).toBe(true);
    expect(sem.tryAcquire()).toBe(false);
    expect(await sem.acquire({ blocking: false })).toBe(false);
    expect(sem._waiting).toBe(0);
    sem.release();
    expect(await sem.acquire({ blocking: false })).toBe(true);
  });

  it('acquire({ timeout }) returns false when no permit comes in time, and leaves the counter alone', async () => {
    const sem = new Semaphore(0);
    const started = performance.now();
    expect(await sem.acquire({ timeout: 20 })).toBe(false);
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
    expect(sem.counter).toBe(0);
    expect(sem._waiting).toBe(0);
  });

  it('release() wakes waiters in the order they started waiting', async () => {
    const sem = new Semaphore(0);
    const order: number[] = [];
    const gs = [1, 2, 3, 4].map((id) =>
      spawn(async () => {
        await sem.acquire();
        order.push(id);
      }),
    );
    await idle();
    expect(gs.map((g) => g.waitingOn)).toEqual(Array(4).fill('Semaphore.acquire'));
    for (let i = 0; i < 4; i++) sem.release();
    for (const g of gs) await g.join();
    expect(order).toEqual([1, 2, 3, 4]);
    expect(sem.counter).toBe(0);
  });

  it('a release hands the permit to the longest waiter: acquire() in the same turn queues behind it (gevent #1487)', async () => {
    const sem = new Semaphore(1);
    await sem.acquire();
    const waiter = spawn(() => sem.acquire());
    await idle();
    sem.release();
    // The permit already belongs to the waiter, though it has not run yet.
    expect(sem.counter).toBe(0);
    expect(sem.tryAcquire()).toBe(false);
    expect(await sem.acquire({ blocking: false })).toBe(false);
    expect(await waiter.get()).toBe(true);
    sem.release();
    expect(sem.counter).toBe(1);
  });

  it('greenlets that loop over acquire/release without other waits take turns instead of one starving the rest', async () => {
    const sem = new Semaphore(1);
    const order: string[] = [];
    const worker = async (name: string): Promise<void> => {
      for (let i = 0; i < 3; i++) {
        await sem.acquire();
        order.push(name);
        sem.release();
      }
    };
    const gs = ['a', 'b', 'c'].map((name) => spawn(worker, name));
    for (const g of gs) await g.join();
    expect(order).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('release() above the initial value is allowed on a plain Semaphore', () => {
    const sem = new Semaphore(1);
    sem.release();
    expect(sem.counter).toBe(2);
  });

  it('wait() returns once a permit is available, without taking it; wait(timeout) returns false', async () => {
    const sem = new Semaphore(0);
    expect(await sem.wait(5)).toBe(false);
    const watcher = spawn(() => sem.wait());
    const taker = spawn(() => sem.acquire());
    await idle();
    expect(watcher.waitingOn).toBe('Semaphore.wait');
    sem.release();
    expect(await watcher.get()).toBe(true);
    expect(await taker.get()).toBe(true);
    expect(sem.counter).toBe(0);
    sem.release();
    expect(await sem.wait()).toBe(true);
    expect(sem.counter).toBe(1);
  });

  it('hold() returns a Disposable: `using` releases at the end of the block, and disposing twice releases once', async () => {
    const sem = new BoundedSemaphore(1);
    {
      using _ = await sem.hold();
      expect(sem.counter).toBe(0);
    }
    expect(sem.counter).toBe(1);
    const held = await sem.hold();
    held[Symbol.dispose]();
    held[Symbol.dispose]();
    expect(sem.counter).toBe(1);
  });

  it('hold() throws a Timeout (code ETIMEDOUT) when no permit comes in time, or at once with blocking: false', async () => {
    const sem = new Semaphore(0);
    const err = await sem.hold({ timeout: 5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Timeout);
    expect(err).toMatchObject({ code: 'ETIMEDOUT' });
    await expect(sem.hold({ blocking: false })).rejects.toBeInstanceOf(Timeout);
    await expect(sem.use(() => 1, { timeout: 1 })).rejects.toBeInstanceOf(Timeout);
    expect(sem._waiting).toBe(0);
  });

  it('use(fn) returns what fn returns and releases the permit even when fn throws', async () => {
    const sem = new Semaphore(2);
    expect(await sem.use(async () => sem.counter)).toBe(1);
    expect(sem.counter).toBe(2);
    const boom = new Error('boom');
    await expect(
      sem.use(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(sem.counter).toBe(2);
  });

  it('use(fn) lets at most `value` greenlets run fn at once', async () => {
    const sem = new Semaphore(2);
    let running = 0;
    let most = 0;
    const gs = Array.from({ length: 6 }, () =>
      spawn(() =>
        sem.use(async () => {
          running++;
          most = Math.max(most, running);
          await sleep(1);
          running--;
        }),
      ),
    );
    for (const g of gs) await g.join();
    expect(most).toBe(2);
    expect(sem.counter).toBe(2);
  });

  it('kill() interrupts acquire() with GreenletExit and takes no permit', async () => {
    const sem = new Semaphore(0);
    const g = spawnCatching(() => sem.acquire());
    await idle();
    await g.kill();
    expect((await g.get()).error).toBeInstanceOf(GreenletExit);
    expect(sem._waiting).toBe(0);
    sem.release();
    expect(sem.counter).toBe(1);
  });

  it('a firing Timeout interrupts acquire() and wait()', async () => {
    const sem = new Semaphore(0);
    const outer = Timeout.startNew(5);
    const err = await sem.acquire().catch((e: unknown) => e);
    outer.close();
    expect(err).toBe(outer);
    const outer2 = Timeout.startNew(5);
    await expect(sem.wait()).rejects.toBe(outer2);
    outer2.close();
    expect(sem._waiting).toBe(0);
  });

  it("an aborted signal rejects acquire() with the signal's reason", async () => {
    const sem = new Semaphore(0);
    const controller = new AbortController();
    const g = spawnCatching(() => sem.acquire({ signal: controller.signal }));
    await idle();
    const reason = new Error('cancelled');
    controller.abort(reason);
    expect(await g.get()).toEqual({ error: reason });
    await expect(sem.acquire({ signal: controller.signal })).rejects.toBe(reason);
    expect(sem._waiting).toBe(0);
    expect(sem.counter).toBe(0);
  });

  it('no waiter survives a timeout, an abort or a kill: a later release() is received by a later waiter', async () => {
    const sem = new Semaphore(0);
    const controller = new AbortController();
    const timedOut = spawn(() => sem.acquire({ timeout: 5 }));
    const aborted = spawnCatching(() => sem.acquire({ signal: controller.signal }));
    const killed = spawnCatching(() => sem.acquire());
    await idle();
    expect(sem._waiting).toBe(3);
    controller.abort(new Error('stop'));
    await killed.kill();
    expect(await timedOut.get()).toBe(false);
    await aborted.join();
    expect(sem._waiting).toBe(0);
    const later = spawn(() => sem.acquire());
    await idle();
    sem.release();
    expect(await later.get()).toBe(true);
    expect(sem.counter).toBe(0);
  });

  it('a release in the same turn as a timeout goes to the next live waiter, not to the one that gave up', async () => {
    const sem = new Semaphore(0);
    const controller = new AbortController();
    const gaveUp = spawnCatching(() => sem.acquire({ signal: controller.signal }));
    const live = spawn(() => sem.acquire());
    await idle();
    controller.abort(new Error('stop'));
    sem.release();
    expect(await live.get()).toBe(true);
    expect((await gaveUp.get()).error).toBeInstanceOf(Error);
    expect(sem.counter).toBe(0);
  });

  it('a kill that arrives after the permit was handed over is raised later and the permit still gets released', async () => {
    const sem = new Semaphore(0);
    const g = spawnCatching(() => sem.use(() => sleep(60_000)));
    await idle();
    sem.release();
    await g.kill();
    expect((await g.get()).error).toBeInstanceOf(GreenletExit);
    expect(sem.counter).toBe(1);
  });
});

describeEachHub('BoundedSemaphore and Lock', () => {
  it('BoundedSemaphore.release() past the initial value throws ERR_SEMAPHORE_RELEASED_TOO_MANY', async () => {
    const sem = new BoundedSemaphore(2);
    await sem.acquire();
    sem.release();
    let err: unknown;
    try {
      sem.release();
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'ERR_SEMAPHORE_RELEASED_TOO_MANY' });
    expect((err as Error).message).toMatch(/released too many times.*acquire/);
    expect(sem.counter).toBe(2);
  });

  it('a permit handed to a waiter counts as held: the bound still catches the extra release', async () => {
    const sem = new BoundedSemaphore(1);
    await sem.acquire();
    const waiter = spawn(() => sem.acquire());
    await idle();
    sem.release();
    expect(await waiter.get()).toBe(true);
    sem.release();
    expect(() => sem.release()).toThrow(expect.objectContaining({ code: 'ERR_SEMAPHORE_RELEASED_TOO_MANY' }));
  });

  it('a Lock is a BoundedSemaphore(1) that any greenlet may release, and releasing it unlocked throws', async () => {
    const lock = new Lock();
    expect(lock).toBeInstanceOf(BoundedSemaphore);
    expect(lock).toBeInstanceOf(Semaphore);
    expect(lock.counter).toBe(1);
    expect(() => lock.release()).toThrow(/Lock released too many times/);
    await lock.acquire();
    const other = spawn(() => lock.release());
    await other.get();
    expect(lock.locked()).toBe(false);
  });

  it('a greenlet blocked on a Lock shows "Lock.acquire" as what it waits on', async () => {
    const lock = new Lock();
    await lock.acquire();
    const g = spawn(() => lock.acquire());
    await idle();
    expect(g.waitingOn).toBe('Lock.acquire');
    lock.release();
    expect(await g.get()).toBe(true);
    lock.release();
  });

  it('no Lock waiter survives a timeout, an abort or a kill: a later release() is received by a later waiter', async () => {
    const lock = new Lock();
    await lock.acquire();
    const controller = new AbortController();
    const timedOut = spawn(() => lock.acquire({ timeout: 5 }));
    const aborted = spawnCatching(() => lock.acquire({ signal: controller.signal }));
    const killed = spawnCatching(() => lock.acquire());
    await idle();
    controller.abort(new Error('stop'));
    await killed.kill();
    expect(await timedOut.get()).toBe(false);
    await aborted.join();
    const later = spawn(() => lock.acquire());
    await idle();
    lock.release();
    expect(await later.get()).toBe(true);
    expect(lock.locked()).toBe(true);
    expect(lock._waiting).toBe(0);
    lock.release();
  });
});
