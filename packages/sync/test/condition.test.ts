import { GreenletExit, idle, sleep, spawn, Timeout } from '@greenhub/core';
import { describeEachHub } from '@greenhub/core/testing';
import { expect, it } from 'vitest';
import { Condition } from '../src/condition.js';
import { RLock } from '../src/rlock.js';
import { Lock } from '../src/semaphore.js';
import { spawnCatching } from './helpers.js';

describeEachHub('Condition', () => {
  it('wait() and notify() without holding the lock throw ERR_LOCK_NOT_OWNED', async () => {
    const cond = new Condition();
    await expect(cond.wait()).rejects.toMatchObject({ code: 'ERR_LOCK_NOT_OWNED' });
    expect(() => cond.notify()).toThrow(expect.objectContaining({ code: 'ERR_LOCK_NOT_OWNED' }));
    expect(() => cond.notifyAll()).toThrow(/needs the condition's lock/);
  });

  it('a lock owned by another greenlet does not count as held', async () => {
    const lock = new RLock();
    const cond = new Condition(lock);
    await lock.acquire();
    const g = spawnCatching(async () => cond.notify());
    expect((await g.get()).error).toMatchObject({ code: 'ERR_LOCK_NOT_OWNED' });
    lock.release();
  });

  it('wait() releases the lock while waiting and holds it again when it returns', async () => {
    const cond = new Condition();
    const log: string[] = [];
    const waiter = spawn(async () => {
      using _ = await cond.hold();
      log.push('waiting');
      const notified = await cond.wait();
      log.push(`woke: ${notified}`);
      cond.notify(); // throws unless the lock is held again
    });
    await idle();
    expect(waiter.waitingOn).toBe('Condition.wait');
    {
      using _ = await cond.hold({ blocking: false });
      log.push('notifier holds the lock');
      cond.notify();
      await idle();
      // The waiter was notified but cannot return before the notifier releases the lock.
      expect(log).toEqual(['waiting', 'notifier holds the lock']);
    }
    await waiter.get();
    expect(log).toEqual(['waiting', 'notifier holds the lock', 'woke: true']);
  });

  it('wait(timeout) returns false when nobody notifies, with the lock held again', async () => {
    const cond = new Condition();
    const g = spawn(async () => {
      using _ = await cond.hold();
      const notified = await cond.wait(10);
      cond.notifyAll();
      return notified;
    });
    expect(await g.get()).toBe(false);
    expect(cond._waiting).toBe(0);
  });

  it('wait() on an RLock held several levels deep releases them all and restores the depth', async () => {
    const lock = new RLock();
    const cond = new Condition(lock);
    const g = spawn(async () => {
      await cond.acquire();
      await cond.acquire();
      const notified = await cond.wait();
      cond.release();
      const stillOwned = lock._isOwned();
      cond.release();
      return [notified, stillOwned, lock.locked()];
    });
    await idle();
    expect(lock.locked()).toBe(false);
    {
      using _ = await cond.hold();
      cond.notify();
    }
    expect(await g.get()).toEqual([true, true, false]);
  });

  it('notify(n) wakes n waiters, longest-waiting first; notifyAll() wakes the rest', async () => {
    const cond = new Condition();
    const order: number[] = [];
    const gs = [1, 2, 3, 4].map((id) =>
      spawn(async () => {
        using _ = await cond.hold();
        await cond.wait();
        order.push(id);
      }),
    );
    await idle();
    expect(cond._waiting).toBe(4);
    {
      using _ = await cond.hold();
      cond.notify(2);
    }
    await idle();
    expect(order).toEqual([1, 2]);
    {
      using _ = await cond.hold();
      cond.notifyAll();
    }
    for (const g of gs) await g.join();
    expect(order).toEqual([1, 2, 3, 4]);
  });

  it('waitFor() returns once the predicate is true, re-checking it after each notification', async () => {
    const cond = new Condition();
    let items = 0;
    const consumer = spawn(async () => {
      using _ = await cond.hold();
      return await cond.waitFor(() => items >= 2);
    });
    for (let i = 0; i < 2; i++) {
      await idle();
      using _ = await cond.hold();
      items++;
      cond.notify();
    }
    expect(await consumer.get()).toBe(true);
  });

  it('waitFor(predicate, timeout) returns false when the predicate stays false', async () => {
    const cond = new Condition();
    using _ = await cond.hold();
    const started = performance.now();
    expect(await cond.waitFor(() => false, 20)).toBe(false);
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
    expect(await cond.waitFor(() => true, 0)).toBe(true);
  });

  it('kill() interrupts wait(), and the lock is held again before the error leaves wait()', async () => {
    const cond = new Condition();
    const g = spawn(async () => {
      await cond.acquire();
      try {
        await cond.wait();
      } catch (err) {
        cond.release(); // throws ERR_LOCK_NOT_OWNED unless wait() re-acquired the lock
        return err;
      }
    });
    await idle();
    await g.kill();
    expect(g.value).toBeInstanceOf(GreenletExit);
    expect(cond._waiting).toBe(0);
  });

  it('a kill while another greenlet holds the lock makes wait() wait for the lock before throwing', async () => {
    const cond = new Condition();
    const waiter = spawnCatching(async () => {
      using _ = await cond.hold();
      await cond.wait();
    });
    await idle();
    await cond.acquire();
    await waiter.kill(undefined, { block: false });
    await idle();
    expect(waiter.dead).toBe(false);
    cond.release();
    await waiter.join();
    expect((await waiter.get()).error).toBeInstanceOf(GreenletExit);
    expect(await cond.acquire({ blocking: false })).toBe(true);
    cond.release();
  });

  it('a Timeout that fires while wait() re-acquires the lock is thrown once the lock is held again', async () => {
    const cond = new Condition();
    let timeout: Timeout | undefined;
    const waiter = spawn(async () => {
      await cond.acquire();
      timeout = Timeout.startNew(20);
      try {
        await cond.wait();
        return 'returned';
      } catch (err) {
        cond.release(); // throws ERR_LOCK_NOT_OWNED unless wait() re-acquired the lock
        return err;
      } finally {
        timeout.close();
      }
    });
    await idle();
    await cond.acquire();
    cond.notify();
    // Keep the lock until the waiter's Timeout has fired while it waits to re-acquire.
    await sleep(40);
    expect(timeout?.fired).toBe(true);
    expect(waiter.dead).toBe(false);
    cond.release();
    expect(await waiter.get()).toBe(timeout);
  });

  it('a firing Timeout and an aborted signal interrupt wait(), which re-acquires the lock first', async () => {
    const cond = new Condition();
    const timed = spawnCatching(async () => {
      using _ = await cond.hold();
      using __ = Timeout.startNew(5);
      await cond.wait();
    });
    const reason = new Error('cancelled');
    const controller = new AbortController();
    const aborted = spawnCatching(async () => {
      using _ = await cond.hold();
      await cond.wait(undefined, { signal: controller.signal });
    });
    await idle();
    controller.abort(reason);
    expect((await timed.get()).error).toBeInstanceOf(Timeout);
    expect(await aborted.get()).toEqual({ error: reason });
    expect(cond._waiting).toBe(0);
    expect(await cond.acquire({ blocking: false })).toBe(true);
    cond.release();
  });

  it('no waiter survives a timeout, an abort or a kill: a later notify() is received by a later waiter', async () => {
    const cond = new Condition();
    const controller = new AbortController();
    const waitIn = (opts: { timeout?: number; signal?: AbortSignal }) =>
      spawnCatching(async () => {
        using _ = await cond.hold();
        return await cond.wait(opts.timeout, { signal: opts.signal });
      });
    const timedOut = waitIn({ timeout: 5 });
    const aborted = waitIn({ signal: controller.signal });
    const killed = waitIn({});
    await idle();
    expect(cond._waiting).toBe(3);
    controller.abort(new Error('stop'));
    await killed.kill();
    expect(await timedOut.get()).toEqual({ value: false });
    await aborted.join();
    expect(cond._waiting).toBe(0);
    const later = waitIn({});
    await idle();
    {
      using _ = await cond.hold();
      cond.notify();
    }
    expect(await later.get()).toEqual({ value: true });
  });

  it('a notify() in the same turn as an abort goes to the next live waiter', async () => {
    const cond = new Condition();
    const controller = new AbortController();
    const gaveUp = spawnCatching(async () => {
      using _ = await cond.hold();
      return await cond.wait(undefined, { signal: controller.signal });
    });
    const live = spawnCatching(async () => {
      using _ = await cond.hold();
      return await cond.wait();
    });
    await idle();
    {
      using _ = await cond.hold();
      controller.abort(new Error('stop'));
      cond.notify();
    }
    expect(await live.get()).toEqual({ value: true });
    expect((await gaveUp.get()).error).toBeInstanceOf(Error);
  });

  it('works over a plain Lock too', async () => {
    const lock = new Lock();
    const cond = new Condition(lock);
    let ready = false;
    const g = spawn(async () => {
      using _ = await cond.hold();
      return await cond.waitFor(() => ready, 5000);
    });
    await idle();
    expect(lock.locked()).toBe(false);
    {
      using _ = await cond.hold();
      ready = true;
      cond.notifyAll();
    }
    expect(await g.get()).toBe(true);
    expect(lock.locked()).toBe(false);
  });
});
