import { getEventListeners } from 'node:events';
import { expect, it } from 'vitest';
import { getcurrent, getHub, idle, sleep, spawn, Timeout, Waiter, withTimeout } from '../src/index.js';
import { captureReportedErrors, describeEachHub } from '../src/testing/index.js';

class TooSlow extends Error {
  override name = 'TooSlow';
}

/** Resolves when `t` fires, through its signal — without a greenhub wait. */
function fired(t: Timeout): Promise<void> {
  return new Promise<void>((resolve) => t.signal.addEventListener('abort', () => resolve(), { once: true }));
}

describeEachHub('Timeout', () => {
  // Greenlets failing on purpose report to this list instead of stderr.
  captureReportedErrors();

  it('a Timeout is not started on construction', async () => {
    const t = new Timeout(5);
    expect(t.pending).toBe(false);
    expect(getHub().stats().active).toBe(0);
    await sleep(20);
    expect(t.pending).toBe(false);
    expect(t.fired).toBe(false);
    t.close();
  });

  it("is an Error with code 'ETIMEDOUT' and a message naming the delay", () => {
    const t = new Timeout(250);
    expect(t).toBeInstanceOf(Error);
    expect(t.code).toBe('ETIMEDOUT');
    expect(t.name).toBe('Timeout');
    expect(t.message).toContain('250');
    expect(t.ms).toBe(250);
  });

  it('Timeout.startNew creates a started Timeout, pending until it fires', async () => {
    const g = spawn(async () => {
      const t = Timeout.startNew(10);
      const pendingAtStart = t.pending;
      try {
        await sleep(60_000);
        return { pendingAtStart, caughtItself: false, pendingAfter: t.pending };
      } catch (err) {
        return { pendingAtStart, caughtItself: err === t, pendingAfter: t.pending, fired: t.fired };
      } finally {
        t.close();
      }
    });
    expect(await g.get()).toEqual({
      pendingAtStart: true,
      caughtItself: true,
      pendingAfter: false,
      fired: true,
    });
  });

  it('a firing Timeout throws into the greenlet that started it, at its current wait, and nowhere else', async () => {
    const bystander = spawn(async () => {
      await sleep(40);
      return 'undisturbed';
    });
    const g = spawn(async () => {
      const t = Timeout.startNew(10);
      try {
        await new Waiter<void>('reply').get();
        return 'no timeout';
      } catch (err) {
        return err === t ? 'timed out at its wait' : err;
      } finally {
        t.close();
      }
    });
    expect(await g.get()).toBe('timed out at its wait');
    expect(await bystander.get()).toBe('undisturbed');
  });

  it('`using t = Timeout.startNew(ms)` closes the Timeout at the end of the block', async () => {
    let kept: Timeout | undefined;
    const g = spawn(async () => {
      {
        using t = Timeout.startNew(10_000);
        kept = t;
        await sleep(1);
        expect(t.pending).toBe(true);
      }
      expect(kept?.pending).toBe(false);
      // Closed for good: the deadline no longer applies.
      return 'finished';
    });
    expect(await g.get()).toBe('finished');
    // describeEachHub's clean check verifies that no hub timer was left behind.
  });

  it('`using` also lets a firing Timeout through, and closes it', async () => {
    const g = spawn(async () => {
      using t = Timeout.startNew(5);
      try {
        await sleep(60_000);
      } catch (err) {
        return err === t;
      }
      return false;
    });
    expect(await g.get()).toBe(true);
  });

  it('closing a Timeout twice is harmless', () => {
    const t = Timeout.startNew(1000);
    t.close();
    t.close();
    t[Symbol.dispose]();
    expect(t.pending).toBe(false);
  });

  it('a cancelled Timeout never fires, and can be started again', async () => {
    const g = spawn(async () => {
      const t = Timeout.startNew(5);
      t.cancel();
      expect(t.pending).toBe(false);
      await sleep(20);
      t.start();
      try {
        await sleep(60_000);
        return 'never';
      } catch (err) {
        return err === t ? 'fired after restart' : err;
      } finally {
        t.close();
      }
    });
    expect(await g.get()).toBe('fired after restart');
  });

  it('starting a pending Timeout again throws ERR_INVALID_STATE', () => {
    const t = Timeout.startNew(1000);
    try {
      expect(() => t.start()).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    } finally {
      t.close();
    }
  });

  it('a Timeout that fired while its greenlet was outside a greenhub wait is thrown at the next wait', async () => {
    const g = spawn(async () => {
      const t = Timeout.startNew(5);
      try {
        await fired(t); // a host promise, not a greenhub wait
        await sleep(0);
        return 'not thrown';
      } catch (err) {
        return err === t ? 'thrown at the next wait' : err;
      } finally {
        t.close();
      }
    });
    expect(await g.get()).toBe('thrown at the next wait');
  });

  it('cancel() withdraws a Timeout that fired but did not reach a wait yet', async () => {
    const g = spawn(async () => {
      const t = Timeout.startNew(5);
      await fired(t);
      t.cancel();
      await sleep(0);
      await sleep(1);
      t.close();
      return 'no error';
    });
    expect(await g.get()).toBe('no error');
  });

  it('a Timeout with an error throws that error instead of itself', async () => {
    const error = new TooSlow('backend too slow');
    const g = spawn(async () => {
      using _ = Timeout.startNew(5, error);
      await sleep(60_000);
    });
    await expect(g.get()).rejects.toBe(error);
  });

  it('a Timeout with an error class throws a new instance of that class', async () => {
    const g = spawn(async () => {
      using _ = Timeout.startNew(5, TooSlow);
      await sleep(60_000);
    });
    await expect(g.get()).rejects.toBeInstanceOf(TooSlow);
  });

  it('a Timeout with a string throws itself, with that string as its message', async () => {
    const g = spawn(async () => {
      using t = Timeout.startNew(5, 'the backend took too long');
      try {
        await sleep(60_000);
      } catch (err) {
        return { same: err === t, message: (err as Error).message, code: (err as Timeout).code };
      }
    });
    expect(await g.get()).toEqual({ same: true, message: 'the backend took too long', code: 'ETIMEDOUT' });
  });

  it('its signal aborts when it fires, with the thrown error as reason', async () => {
    const t = new Timeout(5);
    const g = spawn(async () => {
      t.start();
      try {
        await sleep(60_000);
      } catch {
        // expected
      } finally {
        t.close();
      }
    });
    expect(t.signal.aborted).toBe(false);
    await g.join();
    expect(t.signal.aborted).toBe(true);
    expect(t.signal.reason).toBe(t);
  });

  it('its signal, asked for only after it fired, is already aborted', async () => {
    const g = spawn(async () => {
      using t = Timeout.startNew(2);
      try {
        await sleep(60_000);
      } catch {
        // expected: t fired
      }
      return { aborted: t.signal.aborted, reasonIsTimeout: t.signal.reason === t };
    });
    expect(await g.get()).toEqual({ aborted: true, reasonIsTimeout: true });
  });

  it('a Timeout started again after firing has a fresh signal, not yet aborted', async () => {
    const g = spawn(async () => {
      using t = Timeout.startNew(2);
      const firstSignal = t.signal;
      try {
        await sleep(60_000);
      } catch {
        // expected: t fired
      }
      t.cancel();
      t.start();
      return { first: firstSignal.aborted, second: t.signal.aborted, fresh: t.signal !== firstSignal };
    });
    expect(await g.get()).toEqual({ first: true, second: false, fresh: true });
  });

  it('Timeout(undefined) never fires and arms no hub timer', async () => {
    const g = spawn(async () => {
      using t = Timeout.startNew(undefined);
      expect(t.pending).toBe(false);
      expect(getHub().stats().active).toBe(0);
      await sleep(10);
      return t.fired;
    });
    expect(await g.get()).toBe(false);
  });

  it('Timeout(0) fires as soon as the greenlet waits on the hub', async () => {
    const g = spawn(async () => {
      using t = Timeout.startNew(0);
      try {
        await sleep(1000);
      } catch (err) {
        return err === t;
      }
      return false;
    });
    expect(await g.get()).toBe(true);
  });

  it('a negative delay is a RangeError with code ERR_OUT_OF_RANGE', () => {
    expect(() => new Timeout(-1)).toThrow(RangeError);
    expect(() => new Timeout(-1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });

  it('nested timeouts: the inner one firing is caught by identity while the outer one stays pending', async () => {
    const g = spawn(async () => {
      using outer = Timeout.startNew(10_000);
      using inner = Timeout.startNew(5);
      try {
        await sleep(60_000);
        return 'not timed out';
      } catch (err) {
        if (err !== inner) throw err;
        return { caught: 'inner', outerPending: outer.pending };
      }
    });
    expect(await g.get()).toEqual({ caught: 'inner', outerPending: true });
  });

  it('nested timeouts: the outer one firing is not mistaken for the inner one', async () => {
    const g = spawn(async () => {
      using outer = Timeout.startNew(5);
      try {
        using inner = Timeout.startNew(10_000);
        try {
          await sleep(60_000);
        } catch (err) {
          if (err === inner) return 'inner';
          throw err;
        }
      } catch (err) {
        return err === outer ? 'outer' : err;
      }
    });
    expect(await g.get()).toBe('outer');
  });

  it("withTimeout returns fn's value when it finishes in time", async () => {
    const value = await withTimeout(1000, async () => {
      await sleep(1);
      return 42;
    });
    expect(value).toBe(42);
  });

  it("withTimeout throws its Timeout (code 'ETIMEDOUT') when fn takes too long", async () => {
    const error = await withTimeout(5, () => sleep(60_000)).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(Timeout);
    expect((error as Timeout).code).toBe('ETIMEDOUT');
  });

  it('withTimeout returns the fallback when fn takes too long', async () => {
    expect(await withTimeout(5, () => sleep(60_000).then(() => 'late'), { fallback: 'fallback' })).toBe(
      'fallback',
    );
    expect(await withTimeout(5, () => sleep(60_000), { fallback: undefined })).toBeUndefined();
  });

  it("withTimeout passes fn's own error through, and an outer Timeout is not turned into the fallback", async () => {
    const boom = new Error('boom');
    await expect(withTimeout(1000, () => Promise.reject(boom), { fallback: 'fallback' })).rejects.toBe(boom);
    const g = spawn(async () => {
      using outer = Timeout.startNew(5);
      try {
        return await withTimeout(10_000, () => sleep(60_000), { fallback: 'fallback' });
      } catch (err) {
        return err === outer ? 'outer timeout' : err;
      }
    });
    expect(await g.get()).toBe('outer timeout');
  });

  it('a wait with { signal } rejects with signal.reason on abort and leaves nothing registered', async () => {
    const controller = new AbortController();
    const reason = new Error('user cancelled');
    const waiter = new Waiter<void>('cancellable');
    const log: string[] = [];
    const g = spawn(async () => {
      try {
        await waiter.get({ signal: controller.signal, timeout: 60_000 });
      } finally {
        log.push(getcurrent().waitingOn ?? 'nothing');
      }
    });
    await idle();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort(reason);
    await expect(g.get()).rejects.toBe(reason);
    expect(log).toEqual(['nothing']);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(waiter.switch()).toBe(false);
  });

  it('a wait given an already aborted signal rejects at once with its reason', async () => {
    const reason = new Error('already cancelled');
    const waiter = new Waiter<void>('cancellable');
    await expect(waiter.get({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(getcurrent().waitingOn).toBeUndefined();
  });

  it('a wait that is not aborted removes its abort listener when it ends', async () => {
    const controller = new AbortController();
    const waiter = new Waiter<string>('cancellable');
    const g = spawn(() => waiter.get({ signal: controller.signal }));
    await idle();
    waiter.switch('value');
    expect(await g.get()).toBe('value');
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});
