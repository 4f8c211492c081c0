import { configure, Greenlet, getcurrent, idle, sleep, spawn, Timeout, Waiter } from '@greenhub/core';
import { describeEachHub } from '@greenhub/core/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Group } from '../src/group.js';
import { Pool, PoolFull } from '../src/pool.js';
import { QueueFull } from '../src/queue-errors.js';

describeEachHub('Pool', () => {
  beforeEach(() => configure({ onError: () => {} }));
  afterEach(() => configure({ onError: undefined }));

  it('size must be a positive integer: anything else is a RangeError with code ERR_OUT_OF_RANGE', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      let err: unknown;
      try {
        new Pool(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RangeError);
      expect((err as { code?: string }).code).toBe('ERR_OUT_OF_RANGE');
    }
  });

  it('is a Group at run time, with capacity, freeCount() and full(); neither is a thenable', async () => {
    const pool = new Pool(3);
    expect('then' in pool).toBe(false);
    expect(await (async () => pool)()).toBe(pool);
    const group = new Group();
    expect(await (async () => group)()).toBe(group);
    expect(pool).toBeInstanceOf(Group);
    expect(pool.capacity).toBe(3);
    expect(pool.freeCount()).toBe(3);
    expect(pool.full()).toBe(false);
    expect(String(pool)).toBe('Pool(capacity=3, size=0, waiting=0)');
  });

  it('await pool.spawn() resolves to the Greenlet itself, not its result', async () => {
    const pool = new Pool(2);
    const g = await pool.spawn(async (n: number) => n + 1, 41);
    expect(g).toBeInstanceOf(Greenlet);
    expect(pool.has(g)).toBe(true);
    expect(await g.get()).toBe(42);
  });

  it('spawn() waits for a free slot when the pool is full', async () => {
    const pool = new Pool(2);
    const release = new Waiter<void>('release');
    const first = await pool.spawn(() => release.get());
    await pool.spawn(() => sleep(60_000));
    expect(pool.full()).toBe(true);
    const spawner = spawn(() => pool.spawn(() => 'third'));
    await idle();
    expect(spawner.waitingOn).toBe('Pool.spawn');
    release.switch();
    await first.join();
    const third = await spawner.get();
    expect(await third.get()).toBe('third');
    await pool.kill();
  });

  it('waiting spawners get slots first come, first served', async () => {
    const pool = new Pool(1);
    const release = new Waiter<void>('release');
    await pool.spawn(() => release.get());
    const order: string[] = [];
    const spawners = ['a', 'b', 'c'].map((name) =>
      spawn(async () => {
        const g = await pool.spawn(() => {
          order.push(name);
        });
        await g.join();
      }),
    );
    await idle();
    release.switch();
    for (const s of spawners) await s.join();
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('never runs more than size members at once', async () => {
    const pool = new Pool(3);
    let running = 0;
    let peak = 0;
    for (let i = 0; i < 12; i++) {
      await pool.spawn(async () => {
        running++;
        peak = Math.max(peak, running);
        await sleep(1);
        running--;
      });
    }
    await pool.join();
    expect(peak).toBe(3);
  });

  it('killing a greenlet waiting in spawn() leaves no slot taken, and the next spawner gets the slot', async () => {
    const pool = new Pool(1);
    const release = new Waiter<void>('release');
    const holder = await pool.spawn(() => release.get());
    const killed = spawn(() => pool.spawn(() => 'never'));
    const timedOut = spawn(async () => {
      using _ = Timeout.startNew(1);
      return await pool.spawn(() => 'never either');
    });
    await timedOut.join();
    expect(timedOut.exception).toBeInstanceOf(Timeout);
    const live = spawn(() => pool.spawn(() => 'ran'));
    await idle();
    await killed.kill();
    release.switch();
    await holder.join();
    const g = await live.get();
    expect(await g.get()).toBe('ran');
    await pool.join();
    expect(pool.freeCount()).toBe(1);
  });

  it('add() waits for a slot; with block: false or a timeout it throws PoolFull', async () => {
    const pool = new Pool(1);
    const release = new Waiter<void>('release');
    await pool.spawn(() => release.get());
    const g = new Greenlet(() => 'added');
    const err = await pool.add(g, { block: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PoolFull);
    expect(err).toBeInstanceOf(QueueFull);
    expect((err as PoolFull).code).toBe('ERR_POOL_FULL');
    expect(await pool.add(g, { timeout: 1 }).catch((e: unknown) => e)).toBeInstanceOf(PoolFull);
    const adder = spawn(() => pool.add(g));
    await idle();
    expect(adder.waitingOn).toBe('Pool.add');
    release.switch();
    await adder.join();
    expect(pool.has(g)).toBe(true);
    g.start();
    await pool.join();
  });

  it('a slot handed to add() for a greenlet someone else added meanwhile goes to the next in line', async () => {
    const pool = new Pool(2);
    const release1 = new Waiter<void>('release 1');
    const release2 = new Waiter<void>('release 2');
    const holder1 = await pool.spawn(() => release1.get());
    const holder2 = await pool.spawn(() => release2.get());
    const g = new Greenlet(() => 'g');
    const first = spawn(() => pool.add(g));
    const second = spawn(() => pool.add(g));
    const third = spawn(() => pool.spawn(() => 'third'));
    await idle();
    release1.switch();
    await holder1.join();
    await first.join();
    expect(pool.has(g)).toBe(true);
    release2.switch();
    await holder2.join();
    await second.join();
    const thirdGreenlet = await third.get();
    expect(await thirdGreenlet.get()).toBe('third');
    g.start();
    await pool.join();
    expect(pool.freeCount()).toBe(2);
  });

  it('waitAvailable() returns the free slots, waits while full, and returns 0 on timeout', async () => {
    const pool = new Pool(2);
    expect(await pool.waitAvailable()).toBe(2);
    const release = new Waiter<void>('release');
    await pool.spawn(() => release.get());
    await pool.spawn(() => sleep(60_000));
    expect(await pool.waitAvailable(1)).toBe(0);
    const killed = spawn(() => pool.waitAvailable());
    const waiter = spawn(() => pool.waitAvailable());
    await idle();
    expect(waiter.waitingOn).toBe('Pool.waitAvailable');
    await killed.kill();
    release.switch();
    expect(await waiter.get()).toBe(1);
    await pool.kill();
  });

  it('map() keeps the input order and runs at most size items at once', async () => {
    const pool = new Pool(4);
    let running = 0;
    let peak = 0;
    const out = await pool.map(
      async (n: number) => {
        running++;
        peak = Math.max(peak, running);
        await sleep(n % 3);
        running--;
        return n * n;
      },
      Array.from({ length: 20 }, (_, i) => i),
    );
    expect(out).toEqual(Array.from({ length: 20 }, (_, i) => i * i));
    expect(peak).toBe(4);
  });

  it('map(), imap() and imapUnordered() finish when the items are exactly or many times the pool size', async () => {
    const pool = new Pool(3);
    const double = async (n: number): Promise<number> => n * 2;
    expect(await pool.map(double, [1, 2, 3])).toEqual([2, 4, 6]);
    const many = Array.from({ length: 100 }, (_, i) => i);
    expect(await pool.map(double, many)).toEqual(many.map((n) => n * 2));
    const ordered: number[] = [];
    for await (const v of pool.imap(double, many)) ordered.push(v);
    expect(ordered).toEqual(many.map((n) => n * 2));
    const unordered: number[] = [];
    for await (const v of pool.imapUnordered(double, [1, 2, 3])) unordered.push(v);
    expect(unordered.sort((a, b) => a - b)).toEqual([2, 4, 6]);
    expect(pool.size).toBe(0);
  });

  it('imap() over an endless async source keeps at most size items in flight', async () => {
    const pool = new Pool(3);
    let pulled = 0;
    let running = 0;
    let peak = 0;
    async function* endless(): AsyncGenerator<number> {
      for (let i = 0; ; i++) {
        pulled++;
        yield i;
      }
    }
    const out: number[] = [];
    for await (const v of pool.imap(async (n: number) => {
      running++;
      peak = Math.max(peak, running);
      await sleep(1);
      running--;
      return n;
    }, endless())) {
      out.push(v);
      // Pulled so far: the items yielded plus at most `size` in flight.
      expect(pulled - out.length).toBeLessThanOrEqual(3);
      if (out.length === 10) break;
    }
    expect(out).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(peak).toBeLessThanOrEqual(3);
    expect(pool.size).toBe(0);
  });

  it('imapUnordered() over an endless sync source keeps at most size items in flight and stops cleanly', async () => {
    const pool = new Pool(2);
    let pulled = 0;
    function* endless(): Generator<number> {
      for (let i = 0; ; i++) {
        pulled++;
        yield i;
      }
    }
    let count = 0;
    for await (const _ of pool.imapUnordered((n: number) => sleep(n % 2).then(() => n), endless())) {
      count++;
      expect(pulled - count).toBeLessThanOrEqual(2);
      if (count === 7) break;
    }
    expect(pool.size).toBe(0);
    expect(pool.freeCount()).toBe(2);
  });

  it('killing the greenlet iterating imap() kills the items in flight and frees their slots', async () => {
    const pool = new Pool(2);
    const started: number[] = [];
    const consumer = spawn(async () => {
      for await (const _ of pool.imap(
        async (n: number) => {
          started.push(n);
          await sleep(60_000);
        },
        [1, 2, 3, 4],
      )) {
        // never reached: every item sleeps
      }
    });
    await idle();
    expect(consumer.waitingOn).toBe('Group.imap');
    expect(started).toEqual([1, 2]);
    await consumer.kill();
    expect(pool.size).toBe(0);
    expect(pool.freeCount()).toBe(2);
  });

  it('apply() from a member of a full pool runs inline instead of deadlocking', async () => {
    const pool = new Pool(1);
    const g = await pool.spawn(async () => {
      const me = getcurrent();
      return pool.apply(() => getcurrent() === me);
    });
    expect(await g.get()).toBe(true);
  });

  it('apply() from outside waits for a slot, then returns the result', async () => {
    const pool = new Pool(1);
    const release = new Waiter<void>('release');
    await pool.spawn(() => release.get());
    const caller = spawn(() => pool.apply((a: number) => a * 2, [21]));
    await idle();
    expect(caller.waitingOn).toBe('Pool.spawn');
    release.switch();
    expect(await caller.get()).toBe(42);
  });

  it('kill() empties the pool and frees every slot', async () => {
    const pool = new Pool(2);
    await pool.spawn(() => sleep(60_000));
    await pool.spawn(() => sleep(60_000));
    await pool.kill();
    expect(pool.size).toBe(0);
    expect(pool.freeCount()).toBe(2);
  });
});
