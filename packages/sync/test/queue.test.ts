import { configure, GreenletExit, getcurrent, idle, sleep, spawn, Timeout } from '@greenhub/core';
import { describeEachHub } from '@greenhub/core/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { LifoQueue, Queue } from '../src/queue.js';
import { QueueEmpty, QueueFull, QueueShutDown } from '../src/queue-errors.js';

async function caught(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (err: unknown) => err,
  );
}

describeEachHub('Queue', () => {
  // Greenlets that end with the error under test would be reported; keep them out of the output.
  beforeEach(() => configure({ onError: () => {} }));
  afterEach(() => configure({ onError: undefined }));

  it('items come out in the order they were put', async () => {
    const q = new Queue<number>();
    for (let i = 0; i < 5; i++) await q.put(i);
    const out: number[] = [];
    for (let i = 0; i < 5; i++) out.push(await q.get());
    expect(out).toEqual([0, 1, 2, 3, 4]);
  });

  it('qsize, empty, full and maxsize describe the queue; an unbounded queue has maxsize Infinity', () => {
    const q = new Queue<string>(2);
    expect(q.maxsize).toBe(2);
    expect(q.empty()).toBe(true);
    q.putNowait('a');
    q.putNowait('b');
    expect(q.qsize()).toBe(2);
    expect(q.full()).toBe(true);
    expect(new Queue().maxsize).toBe(Number.POSITIVE_INFINITY);
    expect(new Queue(Number.POSITIVE_INFINITY).full()).toBe(false);
  });

  it('new Queue(0) throws a RangeError that points to Channel', () => {
    const err = (() => {
      try {
        new Queue(0);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(RangeError);
    expect((err as { code?: string }).code).toBe('ERR_OUT_OF_RANGE');
    expect((err as Error).message).toMatch(/Channel/);
    expect(() => new Queue(-1)).toThrow(RangeError);
    expect(() => new Queue(1.5)).toThrow(RangeError);
  });

  it('get() on an empty queue waits for the next put()', async () => {
    const q = new Queue<string>();
    const g = spawn(() => q.get());
    await idle();
    expect(g.waitingOn).toBe('Queue.get');
    await q.put('hello');
    expect(await g.get()).toBe('hello');
  });

  it('blocked getters are served first come, first served', async () => {
    const q = new Queue<number>();
    const got: string[] = [];
    const gs = ['a', 'b', 'c'].map((name) => spawn(async () => got.push(`${name}:${await q.get()}`)));
    await idle();
    for (let i = 1; i <= 3; i++) q.putNowait(i);
    for (const g of gs) await g.join();
    expect(got).toEqual(['a:1', 'b:2', 'c:3']);
  });

  it('put() on a full queue waits, and its item goes in as soon as get() frees room', async () => {
    const q = new Queue<number>(1);
    q.putNowait(1);
    const putter = spawn(() => q.put(2));
    await idle();
    expect(putter.waitingOn).toBe('Queue.put');
    expect(q.getNowait()).toBe(1);
    // Handed over at once: the putter's item is already in the queue.
    expect(q.qsize()).toBe(1);
    expect(q.getNowait()).toBe(2);
    await putter.join();
    expect(putter.successful()).toBe(true);
  });

  it('blocked putters are admitted in the order they came', async () => {
    const q = new Queue<string>(1);
    q.putNowait('first');
    const ps = ['a', 'b', 'c'].map((item) => spawn(() => q.put(item)));
    await idle();
    const out: string[] = [];
    for (let i = 0; i < 4; i++) out.push(await q.get());
    expect(out).toEqual(['first', 'a', 'b', 'c']);
    for (const p of ps) await p.join();
  });

  it('getNowait() and get({ block: false }) on an empty queue throw QueueEmpty with code ERR_QUEUE_EMPTY', async () => {
    const q = new Queue<number>();
    expect(() => q.getNowait()).toThrow(QueueEmpty);
    const err = await caught(q.get({ block: false }));
    expect(err).toBeInstanceOf(QueueEmpty);
    expect((err as QueueEmpty).code).toBe('ERR_QUEUE_EMPTY');
    expect(() => q.peekNowait()).toThrow(QueueEmpty);
  });

  it('putNowait() and put({ block: false }) on a full queue throw QueueFull with code ERR_QUEUE_FULL', async () => {
    const q = new Queue<number>(1);
    q.putNowait(1);
    expect(() => q.putNowait(2)).toThrow(QueueFull);
    const err = await caught(q.put(2, { block: false }));
    expect(err).toBeInstanceOf(QueueFull);
    expect((err as QueueFull).code).toBe('ERR_QUEUE_FULL');
    expect(q.qsize()).toBe(1);
  });

  it('get() that times out throws QueueEmpty, not Timeout', async () => {
    const q = new Queue<number>();
    const started = performance.now();
    const err = await caught(q.get({ timeout: 10 }));
    expect(err).toBeInstanceOf(QueueEmpty);
    expect(err).not.toBeInstanceOf(Timeout);
    expect(performance.now() - started).toBeGreaterThanOrEqual(9);
  });

  it('put() that times out throws QueueFull and leaves its item out', async () => {
    const q = new Queue<number>(1);
    q.putNowait(1);
    const err = await caught(q.put(2, { timeout: 5 }));
    expect(err).toBeInstanceOf(QueueFull);
    expect(q.getNowait()).toBe(1);
    expect(q.empty()).toBe(true);
  });

  it('an outer Timeout aimed at a blocked get() is thrown as itself', async () => {
    const q = new Queue<number>();
    const g = spawn(async () => {
      using _ = Timeout.startNew(5);
      return await q.get();
    });
    await g.join();
    expect(g.exception).toBeInstanceOf(Timeout);
  });

  it('a later put is received by a later get, never lost to a get that timed out', async () => {
    const q = new Queue<string>();
    await caught(q.get({ timeout: 1 }));
    const late = spawn(() => q.get());
    await idle();
    await q.put('kept');
    expect(await late.get()).toBe('kept');
    expect(q.empty()).toBe(true);
  });

  it('a later put is received by a later get, never lost to a killed or aborted get', async () => {
    const q = new Queue<string>();
    const killed = spawn(() => q.get());
    const controller = new AbortController();
    const aborted = spawn(() => q.get({ signal: controller.signal }));
    const reason = new Error('stop');
    const live = spawn(() => q.get());
    await idle();
    await killed.kill();
    controller.abort(reason);
    await aborted.join();
    expect(aborted.exception).toBe(reason);
    await q.put('for the live one');
    expect(await live.get()).toBe('for the live one');
    expect(killed.value).toBeInstanceOf(GreenletExit);
  });

  it('a put that timed out, was killed or aborted never adds its item later', async () => {
    const q = new Queue<string>(1);
    q.putNowait('first');
    await caught(q.put('timed out', { timeout: 1 }));
    const killed = spawn(() => q.put('killed'));
    const controller = new AbortController();
    const aborted = spawn(() => q.put('aborted', { signal: controller.signal }));
    const live = spawn(() => q.put('live'));
    await idle();
    await killed.kill();
    controller.abort(new Error('stop'));
    await aborted.join();
    expect(await q.get()).toBe('first');
    expect(await q.get()).toBe('live');
    expect(q.empty()).toBe(true);
    await live.join();
  });

  it('a peek that timed out or was killed does not keep a later put from a later peek', async () => {
    const q = new Queue<string>();
    expect(await caught(q.peek({ timeout: 1 }))).toBeInstanceOf(QueueEmpty);
    const killed = spawn(() => q.peek());
    const live = spawn(() => q.peek());
    await idle();
    await killed.kill();
    q.putNowait('x');
    expect(await live.get()).toBe('x');
    expect(q.qsize()).toBe(1);
  });

  it('peek() returns the next item without removing it, and waits when empty', async () => {
    const q = new Queue<number>();
    const peeker = spawn(() => q.peek());
    const getter = spawn(() => q.get());
    await idle();
    expect(peeker.waitingOn).toBe('Queue.peek');
    q.putNowait(7);
    expect(await peeker.get()).toBe(7);
    expect(await getter.get()).toBe(7);
    q.putNowait(8);
    q.putNowait(9);
    expect(await q.peek()).toBe(8);
    expect(q.peekNowait()).toBe(8);
    expect(q.qsize()).toBe(2);
  });

  it('shutdown() makes put() throw QueueShutDown at once; get() drains what is left, then throws', async () => {
    const q = new Queue<number>();
    q.putNowait(1);
    q.putNowait(2);
    q.shutdown();
    expect(q.isShutdown).toBe(true);
    const err = await caught(q.put(3));
    expect(err).toBeInstanceOf(QueueShutDown);
    expect((err as QueueShutDown).code).toBe('ERR_QUEUE_SHUTDOWN');
    expect(() => q.putNowait(3)).toThrow(QueueShutDown);
    expect(await q.get()).toBe(1);
    expect(q.getNowait()).toBe(2);
    expect(await caught(q.get())).toBeInstanceOf(QueueShutDown);
    expect(() => q.getNowait()).toThrow(QueueShutDown);
    expect(await caught(q.peek())).toBeInstanceOf(QueueShutDown);
  });

  it('shutdown() wakes blocked getters and peekers of an empty queue with QueueShutDown', async () => {
    const q = new Queue<number>();
    const getter = spawn(() => q.get());
    const peeker = spawn(() => q.peek());
    await idle();
    q.shutdown();
    await getter.join();
    await peeker.join();
    expect(getter.exception).toBeInstanceOf(QueueShutDown);
    expect(peeker.exception).toBeInstanceOf(QueueShutDown);
  });

  it('shutdown() wakes blocked putters with QueueShutDown and does not add their items', async () => {
    const q = new Queue<number>(1);
    q.putNowait(1);
    const putter = spawn(() => q.put(2));
    await idle();
    q.shutdown();
    await putter.join();
    expect(putter.exception).toBeInstanceOf(QueueShutDown);
    expect(q.getNowait()).toBe(1);
    expect(() => q.getNowait()).toThrow(QueueShutDown);
  });

  it('shutdown(true) drops the items left, so get() throws at once', async () => {
    const q = new Queue<number>();
    q.putNowait(1);
    q.shutdown(true);
    expect(q.qsize()).toBe(0);
    expect(await caught(q.get())).toBeInstanceOf(QueueShutDown);
  });

  it('shutdown(true) after shutdown() drops the backlog and wakes nobody twice', async () => {
    const q = new Queue<number>();
    q.putNowait(1);
    q.shutdown();
    q.shutdown(true);
    expect(q.empty()).toBe(true);
    expect(() => q.getNowait()).toThrow(QueueShutDown);
  });

  it('async iteration yields the items and ends after shutdown() once drained', async () => {
    const q = new Queue<number>();
    const seen: number[] = [];
    const consumer = spawn(async () => {
      for await (const item of q) seen.push(item);
      return 'ended';
    });
    await q.put(1);
    await q.put(2);
    await idle();
    q.putNowait(3);
    q.shutdown();
    expect(await consumer.get()).toBe('ended');
    expect(seen).toEqual([1, 2, 3]);
  });

  it('a Queue is not a thenable', async () => {
    const q = new Queue<number>();
    expect('then' in q).toBe(false);
    const same = await (async () => q)();
    expect(same).toBe(q);
  });

  it('get() with items waiting returns without a hub turn', async () => {
    const q = new Queue<number>();
    q.putNowait(1);
    let otherRan = false;
    const other = spawn(() => {
      otherRan = true;
    });
    expect(await q.get()).toBe(1);
    expect(otherRan).toBe(false);
    await other.join();
  });

  it('a negative timeout rejects with ERR_OUT_OF_RANGE and leaves no waiter behind', async () => {
    const q = new Queue<number>();
    const err = await caught(q.get({ timeout: -1 }));
    expect((err as { code?: string }).code).toBe('ERR_OUT_OF_RANGE');
    expect(getcurrent().waitingOn).toBeUndefined();
    const g = spawn(() => q.get());
    await idle();
    q.putNowait(5);
    expect(await g.get()).toBe(5);
  });

  it('a ring of 10 000 items survives wrapping around and growing', async () => {
    const q = new Queue<number>();
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 100; round++) {
      for (let i = 0; i < 150; i++) q.putNowait(next++);
      for (let i = 0; i < 100; i++) expect(q.getNowait()).toBe(expected++);
    }
    while (!q.empty()) expect(q.getNowait()).toBe(expected++);
    expect(expected).toBe(next);
  });

  it('toString() shows the size and who is waiting', async () => {
    const q = new Queue<number>(3);
    q.putNowait(1);
    expect(String(q)).toBe('Queue(maxsize=3, qsize=1, getters=0, putters=0)');
    await sleep(0);
  });
});

describeEachHub('LifoQueue', () => {
  it('returns the most recently put item first', async () => {
    const q = new LifoQueue<number>();
    for (const i of [1, 2, 3]) q.putNowait(i);
    expect(q.peekNowait()).toBe(3);
    expect([await q.get(), await q.get(), await q.get()]).toEqual([3, 2, 1]);
  });

  it('a blocked putter is admitted when room frees, on top of the stack', async () => {
    const q = new LifoQueue<number>(2);
    q.putNowait(1);
    q.putNowait(2);
    const putter = spawn(() => q.put(3));
    await idle();
    expect(q.getNowait()).toBe(2);
    expect(q.getNowait()).toBe(3);
    expect(q.getNowait()).toBe(1);
    await putter.join();
  });

  it('a getter waiting on an empty LifoQueue receives the next put', async () => {
    const q = new LifoQueue<string>();
    const g = spawn(() => q.get());
    await idle();
    q.putNowait('x');
    expect(await g.get()).toBe('x');
  });
});
