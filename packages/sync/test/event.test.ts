import {
  formatRunInfo,
  GreenletExit,
  getcurrent,
  idle,
  iwait,
  sleep,
  spawn,
  Timeout,
  wait,
} from '@greenhub/core';
import { captureReportedErrors, describeEachHub } from '@greenhub/core/testing';
import { expect, it } from 'vitest';
import { Event } from '../src/event.js';
import { spawnCatching } from './helpers.js';

describeEachHub('Event', () => {
  const reported = captureReportedErrors();

  it('a new Event is not set; set() sets it and clear() resets it', () => {
    const event = new Event();
    expect(event.isSet()).toBe(false);
    expect(event.ready()).toBe(false);
    event.set();
    expect(event.isSet()).toBe(true);
    expect(event.ready()).toBe(true);
    event.clear();
    expect(event.isSet()).toBe(false);
  });

  it('wait() on a set Event returns true without blocking', async () => {
    const event = new Event();
    event.set();
    expect(await event.wait()).toBe(true);
    expect(await event.wait(0)).toBe(true);
  });

  it('set() wakes every waiting greenlet with true, in the order they started waiting', async () => {
    const event = new Event();
    const order: number[] = [];
    const gs = [1, 2, 3].map((id) =>
      spawn(async () => {
        const result = await event.wait();
        order.push(id);
        return result;
      }),
    );
    await idle();
    expect(gs.map((g) => g.waitingOn)).toEqual(['Event.wait', 'Event.wait', 'Event.wait']);
    expect(formatRunInfo()).toContain('Event.wait');
    event.set();
    for (const g of gs) expect(await g.get()).toBe(true);
    expect(order).toEqual([1, 2, 3]);
  });

  it('wait(timeout) returns false when the timeout runs out, and never throws', async () => {
    const event = new Event();
    const started = performance.now();
    expect(await event.wait(20)).toBe(false);
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
    expect(event._waiting).toBe(0);
  });

  it('a waiter returns true when the Event was set, even if it was cleared before the waiter resumed', async () => {
    const event = new Event();
    const g = spawn(() => event.wait(10_000));
    await idle();
    event.set();
    event.clear();
    expect(await g.get()).toBe(true);
    expect(event.isSet()).toBe(false);
  });

  it('kill() interrupts wait() with GreenletExit', async () => {
    const event = new Event();
    const g = spawnCatching(() => event.wait());
    await idle();
    expect(g.waitingOn).toBe('Event.wait');
    await g.kill();
    expect((await g.get()).error).toBeInstanceOf(GreenletExit);
    expect(event._waiting).toBe(0);
  });

  it('a firing Timeout interrupts wait(), which then throws that Timeout', async () => {
    const event = new Event();
    const g = spawnCatching(async () => {
      using _ = Timeout.startNew(5);
      return await event.wait();
    });
    const outcome = await g.get();
    expect(outcome).toHaveProperty('error');
    expect((outcome as { error: unknown }).error).toBeInstanceOf(Timeout);
    expect(event._waiting).toBe(0);
  });

  it("an aborted signal rejects wait() with the signal's reason", async () => {
    const event = new Event();
    const controller = new AbortController();
    const g = spawnCatching(() => event.wait(undefined, { signal: controller.signal }));
    await idle();
    const reason = new Error('user cancelled');
    controller.abort(reason);
    expect(await g.get()).toEqual({ error: reason });
    await expect(event.wait(undefined, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(event._waiting).toBe(0);
  });

  it('no waiter survives a timeout, an abort or a kill: a later set() is received by a later waiter', async () => {
    const event = new Event();
    const controller = new AbortController();
    const timedOut = spawn(() => event.wait(5));
    const aborted = spawnCatching(() => event.wait(undefined, { signal: controller.signal }));
    const killed = spawnCatching(() => event.wait());
    await idle();
    expect(event._waiting).toBe(3);
    controller.abort(new Error('stop'));
    await killed.kill();
    expect(await timedOut.get()).toBe(false);
    await aborted.join();
    expect(event._waiting).toBe(0);
    const later = spawn(() => event.wait());
    await idle();
    expect(event._waiting).toBe(1);
    event.set();
    expect(await later.get()).toBe(true);
    expect(event._waiting).toBe(0);
  });

  it('rawlink callbacks run from the hub on a later turn, once, in the order they were added', async () => {
    const event = new Event();
    const calls: string[] = [];
    event.rawlink((e) => calls.push(`a:${e.isSet()}`));
    event.rawlink(() => calls.push('b'));
    event.set();
    expect(calls).toEqual([]);
    await idle();
    expect(calls).toEqual(['a:true', 'b']);
    event.clear();
    event.set();
    await idle();
    expect(calls).toEqual(['a:true', 'b']);
  });

  it('a rawlink callback runs outside any greenlet: getcurrent() there is main, even when a greenlet set()', async () => {
    const event = new Event();
    const seen: string[] = [];
    event.rawlink(() => seen.push(getcurrent().name));
    const setter = spawn(async function setter() {
      await sleep(1);
      seen.push(getcurrent().name);
      event.set();
    });
    await setter.join();
    await idle();
    expect(seen).toEqual([`setter#${setter.id}`, 'main']);
  });

  it('rawlink on an Event that is already set calls back on a later turn', async () => {
    const event = new Event();
    event.set();
    const calls: string[] = [];
    event.rawlink(() => calls.push('linked'));
    expect(calls).toEqual([]);
    await idle();
    expect(calls).toEqual(['linked']);
  });

  it('unlink() removes a callback, also one due later in the same batch', async () => {
    const event = new Event();
    const calls: string[] = [];
    const second = (): void => {
      calls.push('second');
    };
    const removed = (): void => {
      calls.push('removed');
    };
    event.rawlink(removed);
    event.unlink(removed);
    event.rawlink(() => {
      calls.push('first');
      event.unlink(second);
    });
    event.rawlink(second);
    event.set();
    await idle();
    expect(calls).toEqual(['first']);
  });

  it('an error thrown by a rawlink callback is reported and the other callbacks still run', async () => {
    const event = new Event();
    const boom = new Error('link failed');
    const calls: string[] = [];
    event.rawlink(() => {
      throw boom;
    });
    event.rawlink(() => calls.push('after'));
    event.set();
    await idle();
    expect(reported).toEqual([boom]);
    expect(calls).toEqual(['after']);
  });

  it("core's wait() and iwait() accept Events", async () => {
    const a = new Event();
    const b = new Event();
    spawn(() => b.set());
    expect(await wait([a, b], { count: 1 })).toEqual([b]);
    const seen: Event[] = [];
    spawn(() => a.set());
    for await (const e of iwait([a, b])) seen.push(e);
    expect(seen).toHaveLength(2);
    expect(await wait([new Event()], { timeout: 5 })).toEqual([]);
  });

  it('an Event is not a thenable: an async function returning it returns the Event itself', async () => {
    const event = new Event();
    expect('then' in event).toBe(false);
    const returned = await (async () => event)();
    expect(returned).toBe(event);
  });
});
