import { configure, Greenlet, GreenletExit, getcurrent, idle, sleep, spawn, Waiter } from '@greenhub/core';
import { describeEachHub } from '@greenhub/core/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Group } from '../src/group.js';

describeEachHub('Group', () => {
  const reported: unknown[] = [];
  beforeEach(() => {
    reported.length = 0;
    configure({ onError: (err) => reported.push(err) });
  });
  afterEach(() => configure({ onError: undefined }));

  it('spawn() tracks the greenlet until it ends, then discards it', async () => {
    const group = new Group();
    const release = new Waiter<void>('release');
    const g = group.spawn(() => release.get());
    expect(g).toBeInstanceOf(Greenlet);
    expect(group.has(g)).toBe(true);
    expect(group.size).toBe(1);
    expect([...group]).toEqual([g]);
    release.switch();
    await g.join();
    await idle();
    expect(group.has(g)).toBe(false);
    expect(group.size).toBe(0);
  });

  it('add() tracks a greenlet started elsewhere; discard() stops tracking it', async () => {
    const group = new Group();
    const g = new Greenlet(() => sleep(0));
    group.add(g);
    group.add(g);
    expect(group.size).toBe(1);
    group.discard(g);
    expect(group.size).toBe(0);
    g.start();
    await g.join();
    const h = spawn(() => sleep(0));
    const fromCtor = new Group([h]);
    expect(fromCtor.has(h)).toBe(true);
    await fromCtor.join();
  });

  it('a greenlet can be a member of several groups: each tracks it on its own, in the order members were added', async () => {
    const [a, b, c] = [new Group(), new Group(), new Group()];
    const release = new Waiter<void>('release');
    const gs = [0, 1, 2, 3].map(() => new Greenlet(() => release.get()));
    for (const g of gs) a.add(g);
    for (const g of [...gs].reverse()) b.add(g);
    c.add(gs[1]!);
    b.discard(gs[1]!); // a middle member of b, and a greenlet with three memberships
    expect([...a]).toEqual(gs);
    expect([...b]).toEqual([gs[3], gs[2], gs[0]]);
    expect([a.has(gs[1]!), b.has(gs[1]!), c.has(gs[1]!)]).toEqual([true, false, true]);
    a.discard(gs[0]!); // the head of a
    a.discard(gs[3]!); // the tail of a
    expect([...a]).toEqual([gs[1], gs[2]]);
    const late = new Greenlet(() => release.get());
    a.add(late); // after the tail was removed
    expect([...a]).toEqual([gs[1], gs[2], late]);
    expect([a.size, b.size, c.size]).toEqual([3, 3, 1]);
    for (const g of [...gs, late]) g.start();
    release.switch();
    await Promise.all([...gs, late].map((g) => g.join()));
    await idle();
    expect([a.size, b.size, c.size]).toEqual([0, 0, 0]);
    expect([...a, ...b, ...c]).toEqual([]);
    for (const g of gs) expect([a.has(g), b.has(g), c.has(g)]).toEqual([false, false, false]);
  });

  it('join() waits until the group is empty and returns true', async () => {
    const group = new Group();
    const done: number[] = [];
    for (let i = 0; i < 3; i++) {
      group.spawn(async () => {
        await sleep(i);
        done.push(i);
      });
    }
    expect(await group.join()).toBe(true);
    expect(done.sort()).toEqual([0, 1, 2]);
    expect(await new Group().join()).toBe(true);
  });

  it('join({ timeout }) returns false when members are still running', async () => {
    const group = new Group();
    const release = new Waiter<void>('release');
    group.spawn(() => release.get());
    expect(await group.join({ timeout: 5 })).toBe(false);
    release.switch();
    expect(await group.join()).toBe(true);
  });

  it('join({ raiseError: true }) throws the error of a member that fails', async () => {
    const group = new Group();
    const boom = new Error('boom');
    const release = new Waiter<void>('release');
    group.spawn(() => release.get());
    group.spawn(async () => {
      await sleep(0);
      throw boom;
    });
    await expect(group.join({ raiseError: true })).rejects.toBe(boom);
    release.switch();
    await group.join();
    expect(reported).toEqual([boom]);
  });

  it('join({ raiseError: true }) throws when the failing member is the last one to end', async () => {
    const group = new Group();
    const boom = new Error('last');
    group.spawn(async () => {
      await sleep(1);
      throw boom;
    });
    await expect(group.join({ raiseError: true })).rejects.toBe(boom);
  });

  it('a join that timed out or was killed leaves nothing behind for a later join', async () => {
    const group = new Group();
    const release = new Waiter<void>('release');
    group.spawn(() => release.get());
    expect(await group.join({ timeout: 1 })).toBe(false);
    const killed = spawn(() => group.join());
    const live = spawn(() => group.join());
    await idle();
    expect(live.waitingOn).toBe('Group.join');
    await killed.kill();
    release.switch();
    expect(await live.get()).toBe(true);
  });

  it('kill() kills every member and waits until the group is empty', async () => {
    const group = new Group();
    const gs = [0, 1, 2].map(() => group.spawn(() => sleep(60_000)));
    await idle();
    await group.kill();
    expect(group.size).toBe(0);
    for (const g of gs) expect(g.value).toBeInstanceOf(GreenletExit);
  });

  it('kill() with block: false returns at once; kill({ timeout }) gives up quietly', async () => {
    const group = new Group();
    let cleanup: Waiter<void> | undefined;
    group.spawn(async () => {
      try {
        await sleep(60_000);
      } finally {
        cleanup = new Waiter<void>('slow cleanup');
        await cleanup.get();
      }
    });
    await idle();
    await group.kill(undefined, { block: false });
    expect(group.size).toBe(1);
    await group.kill(undefined, { timeout: 5 });
    expect(group.size).toBe(1);
    cleanup?.switch();
    expect(await group.join()).toBe(true);
  });

  it('map() returns the results in input order', async () => {
    const group = new Group();
    const out = await group.map(
      async (n: number) => {
        await sleep(5 - n);
        return n * 10;
      },
      [0, 1, 2, 3, 4],
    );
    expect(out).toEqual([0, 10, 20, 30, 40]);
    expect(group.size).toBe(0);
  });

  it("map() throws an item's error and kills the items still running; the error is not reported twice", async () => {
    const group = new Group();
    const boom = new Error('item 1');
    const killed: number[] = [];
    const err = await group
      .map(
        async (n: number) => {
          if (n === 1) throw boom;
          try {
            await sleep(60_000);
          } catch (e) {
            killed.push(n);
            throw e;
          }
        },
        [0, 1, 2],
      )
      .catch((e: unknown) => e);
    expect(err).toBe(boom);
    expect(killed.sort()).toEqual([0, 2]);
    expect(group.size).toBe(0);
    expect(reported).toEqual([]);
  });

  it('imap() yields results in input order; imapUnordered() in completion order', async () => {
    const group = new Group();
    const delay = async (ms: number): Promise<number> => {
      await sleep(ms);
      return ms;
    };
    const ordered: number[] = [];
    for await (const v of group.imap(delay, [20, 1, 10])) ordered.push(v);
    expect(ordered).toEqual([20, 1, 10]);
    const unordered: number[] = [];
    for await (const v of group.imapUnordered(delay, [20, 1, 10])) unordered.push(v);
    expect(unordered).toEqual([1, 10, 20]);
  });

  it("imap() raises an item's error at its position, after the items before it", async () => {
    const group = new Group();
    const seen: number[] = [];
    const boom = new Error('two');
    const run = async (): Promise<void> => {
      for await (const v of group.imap(
        async (n: number) => {
          if (n === 2) throw boom;
          await sleep(n);
          return n;
        },
        [0, 1, 2, 3],
      )) {
        seen.push(v);
      }
    };
    await expect(run()).rejects.toBe(boom);
    expect(seen).toEqual([0, 1]);
    expect(group.size).toBe(0);
  });

  it("imapUnordered() raises an item's error when it completes", async () => {
    const group = new Group();
    const seen: number[] = [];
    const boom = new Error('fast failure');
    const run = async (): Promise<void> => {
      for await (const v of group.imapUnordered(
        async (n: number) => {
          await sleep(n);
          if (n === 1) throw boom;
          return n;
        },
        [30, 1, 0],
      )) {
        seen.push(v);
      }
    };
    await expect(run()).rejects.toBe(boom);
    expect(seen).toEqual([0]);
    expect(group.size).toBe(0);
  });

  it('imap() reads an async source and a { limit } keeps it from being read ahead', async () => {
    const group = new Group();
    let pulled = 0;
    async function* naturals(): AsyncGenerator<number> {
      for (let i = 0; ; i++) {
        pulled++;
        yield i;
      }
    }
    const out: number[] = [];
    for await (const v of group.imap((n: number) => n * 2, naturals(), { limit: 3 })) {
      out.push(v);
      if (out.length === 5) break;
    }
    expect(out).toEqual([0, 2, 4, 6, 8]);
    expect(pulled).toBeLessThanOrEqual(5 + 3);
    expect(group.size).toBe(0);
  });

  it('breaking out of imap() kills the items in flight and closes the source', async () => {
    const group = new Group();
    let closed = false;
    function* source(): Generator<number> {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed = true;
      }
    }
    const killed: number[] = [];
    for await (const v of group.imap(
      async (n: number) => {
        if (n === 0) return n;
        try {
          await sleep(60_000);
        } catch (e) {
          killed.push(n);
          throw e;
        }
        return n;
      },
      source(),
      { limit: 4 },
    )) {
      expect(v).toBe(0);
      break;
    }
    expect(closed).toBe(true);
    expect(killed.sort()).toEqual([1, 2, 3]);
    expect(group.size).toBe(0);
  });

  it('an error of the source ends imap() with that error', async () => {
    const group = new Group();
    const bad = new Error('source broke');
    function* source(): Generator<number> {
      yield 1;
      throw bad;
    }
    const run = async (): Promise<number[]> => {
      const out: number[] = [];
      for await (const v of group.imap((n: number) => n, source())) out.push(v);
      return out;
    };
    await expect(run()).rejects.toBe(bad);
    expect(group.size).toBe(0);
  });

  it('apply() runs fn as a member and returns its result or throws its error', async () => {
    const group = new Group();
    expect(await group.apply((a: number, b: number) => a + b, [2, 3])).toBe(5);
    const boom = new Error('apply failed');
    await expect(
      group.apply(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(reported).toEqual([]);
  });

  it('apply() called from a member runs inline, in the same greenlet', async () => {
    const group = new Group();
    const outer = group.spawn(async () => {
      const me = getcurrent();
      return group.apply(() => getcurrent() === me);
    });
    expect(await outer.get()).toBe(true);
  });

  it('capacity is Infinity and a bad limit or fn is refused', async () => {
    const group = new Group();
    expect(group.capacity).toBe(Number.POSITIVE_INFINITY);
    expect(() => group.imap((n: number) => n, [1], { limit: 0 })).toThrow(RangeError);
    expect(() => group.imap(42 as unknown as (n: number) => number, [1])).toThrow(TypeError);
    expect(String(group)).toBe('Group(size=0)');
  });
});
