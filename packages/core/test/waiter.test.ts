import { expect, it } from 'vitest';
import { GreenletExit, getcurrent, idle, sleep, spawn, Timeout, Waiter } from '../src/index.js';
import { describeEachHub } from '../src/testing/index.js';

describeEachHub('Waiter', () => {
  it('a value switched in before get() is returned at once, without a hub turn', async () => {
    const waiter = new Waiter<number>('reply');
    expect(waiter.switch(42)).toBe(true);
    expect(waiter.ready).toBe(true);
    const log: string[] = [];
    const other = spawn(() => log.push('other greenlet ran'));
    expect(await waiter.get()).toBe(42);
    expect(log).toEqual([]);
    await other.join();
  });

  it('an error thrown in before get() is thrown by get()', async () => {
    const waiter = new Waiter<number>('reply');
    const error = new Error('no reply');
    expect(waiter.throw(error)).toBe(true);
    await expect(waiter.get()).rejects.toBe(error);
  });

  it('switch() wakes the greenlet blocked in get() with the value', async () => {
    const waiter = new Waiter<string>('reply');
    const g = spawn(() => waiter.get());
    await idle();
    expect(waiter.waiting).toBe(true);
    expect(waiter.owner).toBe(g);
    expect(g.waitingOn).toBe('reply');
    expect(waiter.switch('hello')).toBe(true);
    expect(await g.get()).toBe('hello');
    expect(g.waitingOn).toBeUndefined();
  });

  it('throw() wakes the greenlet blocked in get() with the error', async () => {
    const waiter = new Waiter<string>('reply');
    const error = new Error('connection lost');
    const g = spawn(async () => {
      try {
        await waiter.get();
      } catch (err) {
        return err;
      }
    });
    await idle();
    expect(waiter.throw(error)).toBe(true);
    expect(await g.get()).toBe(error);
  });

  it('only the first switch() or throw() counts; later ones return false', async () => {
    const waiter = new Waiter<string>('reply');
    expect(waiter.switch('first')).toBe(true);
    expect(waiter.switch('second')).toBe(false);
    expect(waiter.throw(new Error('late'))).toBe(false);
    expect(await waiter.get()).toBe('first');
  });

  it('a wait that fails as get() starts it ends through throw(), so a subclass sees that ending too', async () => {
    const ended: string[] = [];
    class Noting extends Waiter<void> {
      override throw(error: unknown): boolean {
        if (!super.throw(error)) return false;
        ended.push((error as { code?: string }).code ?? String(error));
        return true;
      }
    }
    await expect(new Noting().get({ timeout: -1 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    const aborted = AbortSignal.abort(Object.assign(new Error('stop'), { code: 'ABORT_ERR' }));
    await expect(new Noting().get({ signal: aborted })).rejects.toMatchObject({ code: 'ABORT_ERR' });
    const killed = spawn(async () => {
      getcurrent().kill(new GreenletExit(), { block: false });
      await new Noting().get();
    });
    await killed.join();
    expect(killed.value).toBeInstanceOf(GreenletExit);
    expect(ended).toEqual(['ERR_OUT_OF_RANGE', 'ABORT_ERR', 'GreenletExit: greenlet killed']);
    expect(getcurrent().waitingOn).toBeUndefined();
  });

  it('a second get() while a greenlet waits rejects with code ERR_CONCURRENT_USE', async () => {
    const waiter = new Waiter<string>('reply');
    const first = spawn(() => waiter.get());
    await idle();
    const error = await waiter.get().catch((err: unknown) => err);
    expect(error).toBeInstanceOf(Error);
    expect((error as { code?: string }).code).toBe('ERR_CONCURRENT_USE');
    // The first waiter is undisturbed.
    expect(waiter.waiting).toBe(true);
    waiter.switch('for the first');
    expect(await first.get()).toBe('for the first');
  });

  it('get({ timeout, timeoutValue }) returns timeoutValue when time runs out', async () => {
    const waiter = new Waiter<string>('reply');
    const started = performance.now();
    expect(await waiter.get({ timeout: 15, timeoutValue: 'no reply' })).toBe('no reply');
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
  });

  it("get({ timeout }) without timeoutValue throws a Timeout with code 'ETIMEDOUT'", async () => {
    const waiter = new Waiter<string>('reply');
    const error = await waiter.get({ timeout: 5 }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(Timeout);
    expect((error as Timeout).code).toBe('ETIMEDOUT');
  });

  it('switch() after a timeout returns false, so the caller can hand the value to someone else', async () => {
    const waiter = new Waiter<string>('reply');
    const g = spawn(() => waiter.get({ timeout: 5, timeoutValue: 'timed out' }));
    expect(await g.get()).toBe('timed out');
    const undelivered: string[] = [];
    if (!waiter.switch('late reply')) undelivered.push('late reply');
    expect(undelivered).toEqual(['late reply']);
  });

  it('a negative timeout rejects with ERR_OUT_OF_RANGE and leaves nothing registered', async () => {
    const waiter = new Waiter<string>('reply');
    const error = await waiter.get({ timeout: -1 }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(RangeError);
    expect((error as { code?: string }).code).toBe('ERR_OUT_OF_RANGE');
    expect(getcurrent().waitingOn).toBeUndefined();
  });

  it('the kind names the wait, as seen in waitingOn', async () => {
    const waiter = new Waiter<void>('database reply');
    expect(waiter.kind).toBe('database reply');
    expect(new Waiter().kind).toBe('wait');
    const g = spawn(async () => {
      await sleep(0);
      await waiter.get();
    });
    await idle();
    expect(g.waitingOn).toBe('database reply');
    waiter.switch();
    await g.join();
  });
});
