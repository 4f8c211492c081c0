import { GreenletExit, idle, spawn, Timeout, wait } from '@greenhub/core';
import { describeEachHub } from '@greenhub/core/testing';
import { expect, it } from 'vitest';
import { AsyncResult } from '../src/async-result.js';
import { spawnCatching } from './helpers.js';

describeEachHub('AsyncResult', () => {
  it('get() waits for set() and every waiting greenlet receives the value', async () => {
    const result = new AsyncResult<string>();
    const gs = [1, 2, 3].map(() => spawn(() => result.get()));
    await idle();
    expect(gs.map((g) => g.waitingOn)).toEqual(['AsyncResult.get', 'AsyncResult.get', 'AsyncResult.get']);
    expect(result.ready()).toBe(false);
    result.set('hello');
    expect(result.ready()).toBe(true);
    expect(result.successful()).toBe(true);
    expect(result.value).toBe('hello');
    expect(result.exception).toBeUndefined();
    for (const g of gs) expect(await g.get()).toBe('hello');
    expect(await result.get()).toBe('hello');
    expect(result.getNowait()).toBe('hello');
  });

  it('after setException() get() and getNowait() throw the error, and wait() returns undefined', async () => {
    const result = new AsyncResult<number>();
    const error = new Error('upstream closed');
    const waiting = spawnCatching(() => result.get());
    const waitingQuietly = spawn(() => result.wait());
    await idle();
    expect(waitingQuietly.waitingOn).toBe('AsyncResult.wait');
    result.setException(error);
    expect(await waiting.get()).toEqual({ error });
    expect(await waitingQuietly.get()).toBeUndefined();
    expect(result.ready()).toBe(true);
    expect(result.successful()).toBe(false);
    expect(result.exception).toBe(error);
    expect(result.value).toBeUndefined();
    expect(() => result.getNowait()).toThrow(error);
    await expect(result.get()).rejects.toBe(error);
  });

  it('get() throws a Timeout when not ready: with block: false at once, or when the timeout runs out', async () => {
    const result = new AsyncResult<number>();
    await expect(result.get({ block: false })).rejects.toBeInstanceOf(Timeout);
    const err = await result.get({ timeout: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Timeout);
    expect(err).toMatchObject({ code: 'ETIMEDOUT' });
    expect(() => result.getNowait()).toThrow(Timeout);
    expect(result._waiting).toBe(0);
  });

  it('wait(timeout) returns undefined when the timeout runs out and never throws', async () => {
    const result = new AsyncResult<number>();
    expect(await result.wait(10)).toBeUndefined();
    result.set(7);
    expect(await result.wait(10)).toBe(7);
  });

  it('set() may be called again, as in gevent: the latest outcome replaces the earlier one', async () => {
    const result = new AsyncResult<number>();
    result.set(1);
    result.set(2);
    expect(await result.get()).toBe(2);
    const error = new Error('later failure');
    result.setException(error);
    expect(result.successful()).toBe(false);
    await expect(result.get()).rejects.toBe(error);
    result.set(3);
    expect(result.exception).toBeUndefined();
    expect(await result.get()).toBe(3);
  });

  it('a greenlet woken by set() but not yet resumed reads the latest outcome', async () => {
    const result = new AsyncResult<string>();
    const g = spawn(() => result.get());
    await idle();
    result.set('first');
    result.set('second');
    expect(await g.get()).toBe('second');
  });

  it('an AsyncResult<void> is set with no argument', async () => {
    const result = new AsyncResult<void>();
    spawn(() => result.set());
    expect(await result.get({ timeout: 1000 })).toBeUndefined();
    expect(result.successful()).toBe(true);
  });

  it('kill() interrupts get() with GreenletExit', async () => {
    const result = new AsyncResult<number>();
    const g = spawnCatching(() => result.get());
    await idle();
    await g.kill();
    expect((await g.get()).error).toBeInstanceOf(GreenletExit);
    expect(result._waiting).toBe(0);
  });

  it('a firing Timeout interrupts get() and wait()', async () => {
    const result = new AsyncResult<number>();
    const outer = Timeout.startNew(5);
    const err = await result.wait().catch((e: unknown) => e);
    outer.close();
    expect(err).toBe(outer);
    expect(result._waiting).toBe(0);
  });

  it("an aborted signal rejects get() and wait() with the signal's reason", async () => {
    const result = new AsyncResult<number>();
    const controller = new AbortController();
    const g = spawnCatching(() => result.get({ signal: controller.signal }));
    await idle();
    const reason = new Error('cancelled');
    controller.abort(reason);
    expect(await g.get()).toEqual({ error: reason });
    await expect(result.wait(undefined, { signal: controller.signal })).rejects.toBe(reason);
    expect(result._waiting).toBe(0);
  });

  it('no waiter survives a timeout, an abort or a kill: a later set() is received by a later waiter', async () => {
    const result = new AsyncResult<string>();
    const controller = new AbortController();
    const timedOut = spawnCatching(() => result.get({ timeout: 5 }));
    const aborted = spawnCatching(() => result.get({ signal: controller.signal }));
    const killed = spawnCatching(() => result.get());
    await idle();
    expect(result._waiting).toBe(3);
    controller.abort(new Error('stop'));
    await killed.kill();
    expect((await timedOut.get()).error).toBeInstanceOf(Timeout);
    await aborted.join();
    expect(result._waiting).toBe(0);
    const later = spawn(() => result.get());
    await idle();
    result.set('delivered');
    expect(await later.get()).toBe('delivered');
    expect(result._waiting).toBe(0);
  });

  it('rawlink callbacks run from the hub on a later turn, in order; on a ready result at once', async () => {
    const result = new AsyncResult<number>();
    const calls: string[] = [];
    result.rawlink((r) => calls.push(`a:${r.value}`));
    result.rawlink(() => calls.push('b'));
    const removed = (): void => {
      calls.push('removed');
    };
    result.rawlink(removed);
    result.unlink(removed);
    result.set(5);
    expect(calls).toEqual([]);
    await idle();
    expect(calls).toEqual(['a:5', 'b']);
    result.rawlink(() => calls.push('late'));
    expect(calls).toEqual(['a:5', 'b']);
    await idle();
    expect(calls).toEqual(['a:5', 'b', 'late']);
  });

  it("core's wait() accepts AsyncResults and returns the ready ones", async () => {
    const a = new AsyncResult<number>();
    const b = new AsyncResult<number>();
    spawn(() => b.setException(new Error('failed too')));
    expect(await wait([a, b], { count: 1 })).toEqual([b]);
    expect(await wait([a], { timeout: 5 })).toEqual([]);
  });

  it('an AsyncResult is not a thenable: an async function returning it returns the AsyncResult itself', async () => {
    const result = new AsyncResult<number>();
    expect('then' in result).toBe(false);
    const returned = await (async () => result)();
    expect(returned).toBe(result);
  });
});
