import { GreenletExit, idle, spawn, Timeout } from '@greenhub/core';
import { describeEachHub } from '@greenhub/core/testing';
import { expect, it } from 'vitest';
import { RLock } from '../src/rlock.js';
import { spawnCatching } from './helpers.js';

/** The error `fn` throws synchronously. */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describeEachHub('RLock', () => {
  it('the owning greenlet acquires again without blocking and must release as many times', async () => {
    const lock = new RLock();
    const g = spawn(async () => {
      expect(await lock.acquire()).toBe(true);
      expect(await lock.acquire()).toBe(true);
      lock.release();
      expect(lock.locked()).toBe(true);
      lock.release();
      return lock.locked();
    });
    expect(await g.get()).toBe(false);
  });

  it('another greenlet waits until the owner has released every level', async () => {
    const lock = new RLock();
    const log: string[] = [];
    const owner = spawn(async () => {
      await lock.acquire();
      await lock.acquire();
      const other = spawn(async () => {
        await lock.acquire();
        log.push('other acquired');
        lock.release();
      });
      await idle();
      expect(other.waitingOn).toBe('RLock.acquire');
      lock.release();
      await idle();
      log.push('owner released once');
      lock.release();
      await other.join();
    });
    await owner.get();
    expect(log).toEqual(['owner released once', 'other acquired']);
  });

  it('release() by a greenlet that does not own the lock throws ERR_LOCK_NOT_OWNED', async () => {
    const lock = new RLock();
    expect(thrownBy(() => lock.release())).toMatchObject({ code: 'ERR_LOCK_NOT_OWNED' });
    const owner = spawn(async () => {
      await lock.acquire();
      const thief = spawn(() => thrownBy(() => lock.release()));
      const err = (await thief.get()) as Error & { code: string };
      lock.release();
      return err;
    });
    const err = await owner.get();
    expect(err.code).toBe('ERR_LOCK_NOT_OWNED');
    expect(err.message).toMatch(/does not own.*release it from the greenlet that acquired it/);
    expect(lock.locked()).toBe(false);
  });

  it('acquire({ blocking: false }) and acquire({ timeout }) return false while another greenlet owns it', async () => {
    const lock = new RLock();
    await lock.acquire();
    const g = spawn(async () => [
      await lock.acquire({ blocking: false }),
      await lock.acquire({ timeout: 5 }),
    ]);
    expect(await g.get()).toEqual([false, false]);
    expect(lock._waiting).toBe(0);
    lock.release();
  });

  it('waiters get the lock in FIFO order, and the owner re-acquiring in the same turn queues behind them', async () => {
    const lock = new RLock();
    const order: string[] = [];
    const worker = async (name: string): Promise<void> => {
      for (let i = 0; i < 2; i++) {
        await lock.acquire();
        order.push(name);
        lock.release();
      }
    };
    const gs = ['a', 'b', 'c'].map((name) => spawn(worker, name));
    for (const g of gs) await g.join();
    expect(order).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('the lock passes to the waiter at release(): it is owned before the waiter runs', async () => {
    const lock = new RLock();
    await lock.acquire();
    const waiter = spawn(async () => {
      await lock.acquire();
      lock.release();
    });
    await idle();
    lock.release();
    expect(lock.locked()).toBe(true);
    expect(await lock.acquire({ blocking: false })).toBe(false);
    await waiter.join();
    expect(lock.locked()).toBe(false);
  });

  it('hold() and use() release when the block or function ends, even on throw', async () => {
    const lock = new RLock();
    {
      using _ = await lock.hold();
      using __ = await lock.hold();
      expect(lock.locked()).toBe(true);
    }
    expect(lock.locked()).toBe(false);
    const boom = new Error('boom');
    await expect(
      lock.use(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(lock.locked()).toBe(false);
    const held = await lock.hold();
    held[Symbol.dispose]();
    held[Symbol.dispose]();
    expect(lock.locked()).toBe(false);
  });

  it('hold({ timeout }) throws a Timeout while another greenlet owns the lock', async () => {
    const lock = new RLock();
    await lock.acquire();
    const g = spawnCatching(() => lock.hold({ timeout: 5 }));
    expect((await g.get()).error).toMatchObject({ code: 'ETIMEDOUT' });
    lock.release();
  });

  it('kill(), a firing Timeout and an aborted signal interrupt acquire()', async () => {
    const lock = new RLock();
    await lock.acquire();
    const killed = spawnCatching(() => lock.acquire());
    const timed = spawnCatching(async () => {
      using _ = Timeout.startNew(5);
      return await lock.acquire();
    });
    const reason = new Error('cancelled');
    const aborted = spawnCatching(() => lock.acquire({ signal: AbortSignal.abort(reason) }));
    await idle();
    await killed.kill();
    expect((await killed.get()).error).toBeInstanceOf(GreenletExit);
    expect((await timed.get()).error).toBeInstanceOf(Timeout);
    expect(await aborted.get()).toEqual({ error: reason });
    expect(lock._waiting).toBe(0);
    lock.release();
    expect(lock.locked()).toBe(false);
  });

  it('no waiter survives a timeout, an abort or a kill: a later release() is received by a later waiter', async () => {
    const lock = new RLock();
    await lock.acquire();
    const controller = new AbortController();
    const timedOut = spawn(() => lock.acquire({ timeout: 5 }));
    const aborted = spawnCatching(() => lock.acquire({ signal: controller.signal }));
    const killed = spawnCatching(() => lock.acquire());
    await idle();
    expect(lock._waiting).toBe(3);
    controller.abort(new Error('stop'));
    await killed.kill();
    expect(await timedOut.get()).toBe(false);
    await aborted.join();
    expect(lock._waiting).toBe(0);
    const later = spawn(async () => {
      const got = await lock.acquire();
      lock.release();
      return got;
    });
    await idle();
    lock.release();
    expect(await later.get()).toBe(true);
    expect(lock.locked()).toBe(false);
  });
});
