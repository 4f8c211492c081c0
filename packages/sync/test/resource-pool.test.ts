import { idle, sleep, spawn, Timeout, Waiter } from '@greenhub/core';
import { describeEachHub } from '@greenhub/core/testing';
import { afterEach, expect, it } from 'vitest';
import { BACKOFF_INITIAL_MS, BACKOFF_MAX_MS, backoffDelay } from '../src/internal/resource-pool-backoff.js';
import { ResourcePool, type ResourcePoolOptions } from '../src/resource-pool.js';

interface Conn {
  id: number;
  closed: boolean;
}

/** A resource factory that counts what it made and closed. */
function factory() {
  const made: Conn[] = [];
  const closed: Conn[] = [];
  return {
    made,
    closed,
    create: async (): Promise<Conn> => {
      const conn = { id: made.length + 1, closed: false };
      made.push(conn);
      return conn;
    },
    destroy: async (conn: Conn): Promise<void> => {
      conn.closed = true;
      closed.push(conn);
    },
  };
}

async function caught(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}

describeEachHub('ResourcePool', () => {
  const pools: ResourcePool<Conn>[] = [];
  const pool = (opts: Partial<ResourcePoolOptions<Conn>> & { max: number }) => {
    const f = factory();
    const p = new ResourcePool<Conn>({ create: f.create, destroy: f.destroy, ...opts });
    pools.push(p);
    return { p, ...f };
  };
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.drain({ timeout: 1000 }).catch(() => {})));
  });

  it('acquire() creates up to max resources, then waits for a release', async () => {
    const { p, made } = pool({ max: 2 });
    const a = await p.acquire();
    const b = await p.acquire();
    expect(made).toEqual([a, b]);
    expect(p.stats).toEqual({ size: 2, idle: 0, borrowed: 2, waiting: 0, creating: 0 });
    const third = spawn(() => p.acquire());
    await idle();
    expect(p.stats.waiting).toBe(1);
    p.release(a);
    expect(await third.get()).toBe(a);
    expect(made).toHaveLength(2);
    p.release(a);
    p.release(b);
    expect(p.stats).toEqual({ size: 2, idle: 2, borrowed: 0, waiting: 0, creating: 0 });
  });

  it('waiters are served in FIFO order', async () => {
    const { p } = pool({ max: 1 });
    const held = await p.acquire();
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) =>
      spawn(async () => {
        const conn = await p.acquire();
        order.push(n);
        p.release(conn);
      }),
    );
    await idle();
    p.release(held);
    for (const g of waiters) await g.get();
    expect(order).toEqual([1, 2, 3]);
  });

  it('an idle resource is lent most-recently-released first', async () => {
    const { p } = pool({ max: 3 });
    const [a, b] = [await p.acquire(), await p.acquire()];
    p.release(a);
    p.release(b);
    const again = await p.acquire();
    expect(again).toBe(b);
    p.release(again);
  });

  it("acquire() gives up with a Timeout (code ETIMEDOUT) after timeout, by default the pool's acquireTimeout", async () => {
    const { p } = pool({ max: 1, acquireTimeout: 15 });
    const held = await p.acquire();
    const byDefault = await caught(p.acquire());
    expect(byDefault).toBeInstanceOf(Timeout);
    expect(byDefault.code).toBe('ETIMEDOUT');
    expect(byDefault.message).toContain('timed out after 15 ms with 1 of max 1 resources borrowed');
    const explicit = await caught(p.acquire({ timeout: 5 }));
    expect(explicit.message).toContain('after 5 ms');
    expect(p.stats.waiting).toBe(0);
    p.release(held);
  });

  it('no waiter survives a timeout, an abort or a kill: a later release reaches a later acquire', async () => {
    const { p } = pool({ max: 1 });
    const held = await p.acquire();
    const controller = new AbortController();
    const timedOut = spawn(() => caught(p.acquire({ timeout: 5 })));
    const aborted = spawn(() => caught(p.acquire({ signal: controller.signal })));
    const killed = spawn(() => p.acquire());
    const outer = spawn(async () => {
      using _ = Timeout.startNew(5);
      return await caught(p.acquire());
    });
    await idle();
    expect(p.stats.waiting).toBe(4);
    controller.abort(new Error('gone'));
    await killed.kill();
    expect(await timedOut.get()).toBeInstanceOf(Timeout);
    expect((await aborted.get()).message).toBe('gone');
    expect(await outer.get()).toBeInstanceOf(Timeout);
    expect(p.stats.waiting).toBe(0);

    const later = spawn(() => p.acquire());
    await idle();
    p.release(held);
    expect(await later.get()).toBe(held);
    expect(p.stats).toMatchObject({ size: 1, borrowed: 1, waiting: 0 });
    p.release(held);
  });

  it('a resource created for a waiter that gave up goes to the next waiter, or idle', async () => {
    const gate = new Waiter<void>('create gate');
    let made = 0;
    const p = new ResourcePool<Conn>({
      create: async () => {
        await gate.get();
        return { id: ++made, closed: false };
      },
      max: 1,
    });
    pools.push(p);
    const quitter = spawn(() => p.acquire());
    await idle();
    expect(p.stats.creating).toBe(1);
    await quitter.kill();
    const patient = spawn(() => p.acquire());
    await idle();
    gate.switch();
    const conn = await patient.get();
    expect(conn.id).toBe(1);
    expect(made).toBe(1);
    p.release(conn);
  });

  it('validate() runs on every borrow of a used resource: an invalid one is destroyed and the caller gets another', async () => {
    const checked: number[] = [];
    const { p, closed } = pool({
      max: 2,
      validate: async (conn) => {
        checked.push(conn.id);
        return conn.id !== 1;
      },
    });
    const a = await p.acquire();
    expect(checked).toEqual([]); // fresh from create(): not validated
    p.release(a);
    const b = await p.acquire();
    expect(checked).toEqual([1]);
    expect(b.id).toBe(2);
    await idle();
    expect(closed).toEqual([a]);
    p.release(b);
    expect(await p.acquire()).toBe(b);
    expect(checked).toEqual([1, 2]);
    p.release(b);
  });

  it('validate() that throws destroys the resource and acquire() throws that error', async () => {
    const failure = new Error('validate crashed');
    const { p, closed } = pool({
      max: 1,
      validate: () => {
        throw failure;
      },
    });
    p.release(await p.acquire());
    await expect(p.acquire()).rejects.toBe(failure);
    await idle();
    expect(closed).toHaveLength(1);
    expect(p.stats.size).toBe(0);
  });

  it('release() or destroy() of a resource not borrowed throws ERR_POOL_NOT_BORROWED', async () => {
    const { p } = pool({ max: 1 });
    const conn = await p.acquire();
    p.release(conn);
    expect(() => p.release(conn)).toThrow(expect.objectContaining({ code: 'ERR_POOL_NOT_BORROWED' }));
    expect(() => p.release({ id: 99, closed: false })).toThrow(
      expect.objectContaining({ code: 'ERR_POOL_NOT_BORROWED' }),
    );
    await expect(p.destroy(conn)).rejects.toMatchObject({ code: 'ERR_POOL_NOT_BORROWED' });
  });

  it('destroy(r) closes it and frees its place for a new one', async () => {
    const { p, closed, made } = pool({ max: 1 });
    const conn = await p.acquire();
    const waiter = spawn(() => p.acquire());
    await idle();
    await p.destroy(conn);
    expect(closed).toEqual([conn]);
    const next = await waiter.get();
    expect(next).not.toBe(conn);
    expect(made).toHaveLength(2);
    p.release(next);
  });

  it('use(fn) releases the resource when fn returns and when it throws', async () => {
    const { p, closed } = pool({ max: 1 });
    expect(await p.use((conn) => conn.id * 10)).toBe(10);
    expect(p.stats).toMatchObject({ idle: 1, borrowed: 0 });
    const failure = new Error('query failed');
    await expect(
      p.use(() => {
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(p.stats).toMatchObject({ idle: 1, borrowed: 0 });
    expect(closed).toEqual([]);
  });

  it('use(fn, { destroyOnError }) destroys the resource when fn throws and the rule says so', async () => {
    const { p, closed } = pool({ max: 1 });
    const broken = Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
    const rule = (error: unknown) => (error as { code?: string }).code === 'ECONNRESET';
    await expect(
      p.use(
        () => {
          throw broken;
        },
        { destroyOnError: rule },
      ),
    ).rejects.toBe(broken);
    await idle();
    expect(closed).toHaveLength(1);
    await expect(
      p.use(
        () => {
          throw new Error('syntax error');
        },
        { destroyOnError: rule },
      ),
    ).rejects.toThrow('syntax error');
    expect(p.stats).toMatchObject({ size: 1, idle: 1 });
  });

  it('min resources are created at once and replaced when destroyed', async () => {
    const { p, made } = pool({ max: 4, min: 2 });
    await idle();
    expect(made).toHaveLength(2);
    expect(p.stats).toMatchObject({ size: 2, idle: 2 });
    await p.destroy(await p.acquire());
    await idle();
    expect(made).toHaveLength(3);
    expect(p.stats).toMatchObject({ size: 2, idle: 2 });
  });

  it('idleTimeout destroys resources idle that long, keeping min', async () => {
    const twoClosed = new Waiter<void>('two closed');
    const closed: Conn[] = [];
    let made = 0;
    const p = new ResourcePool<Conn>({
      create: () => ({ id: ++made, closed: false }),
      destroy: (conn) => {
        closed.push(conn);
        if (closed.length === 2) twoClosed.switch();
      },
      max: 3,
      min: 1,
      idleTimeout: 20,
    });
    pools.push(p);
    const conns = [await p.acquire(), await p.acquire(), await p.acquire()];
    const released = performance.now();
    for (const conn of conns) p.release(conn);
    await twoClosed.get({ timeout: 2000 });
    expect(performance.now() - released).toBeGreaterThanOrEqual(19);
    await idle();
    expect(p.stats).toMatchObject({ size: 1, idle: 1 });
    // The oldest idle ones went first; the most recently released stays.
    expect(closed.map((c) => c.id).sort()).toEqual([1, 2]);
  });

  it('a create() that fails is retried with growing delays; each failure goes to the oldest waiter', async () => {
    const attempts: number[] = [];
    const p = new ResourcePool<Conn>({
      create: () => {
        attempts.push(performance.now());
        if (attempts.length <= 3) throw new Error(`refused #${attempts.length}`);
        return { id: attempts.length, closed: false };
      },
      max: 1,
    });
    pools.push(p);
    const failing = [1, 2, 3].map(() => spawn(() => caught(p.acquire())));
    const lucky = spawn(() => p.acquire());
    expect((await failing[0]!.get()).message).toBe('refused #1');
    expect((await failing[1]!.get()).message).toBe('refused #2');
    expect((await failing[2]!.get()).message).toBe('refused #3');
    const conn = await lucky.get();
    expect(conn.id).toBe(4);
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(BACKOFF_INITIAL_MS / 2 - 1);
    expect(gaps[1]).toBeGreaterThanOrEqual(BACKOFF_INITIAL_MS - 1);
    expect(gaps[2]).toBeGreaterThanOrEqual(BACKOFF_INITIAL_MS * 2 - 1);
    p.release(conn);
  });

  it('a create() that keeps failing backs off instead of spinning, and min is reached once it recovers', async () => {
    let attempts = 0;
    let healthy = false;
    const recovered = new Waiter<void>('recovered');
    const p = new ResourcePool<Conn>({
      create: () => {
        attempts++;
        if (!healthy) throw new Error('ECONNREFUSED');
        recovered.switch();
        return { id: attempts, closed: false };
      },
      max: 4,
      min: 2,
    });
    pools.push(p);
    await sleep(200);
    // 10, 20, 40, 80 ms (halved at worst by jitter): a handful of attempts, one at a time, not thousands.
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(attempts).toBeLessThanOrEqual(9);
    expect(p.stats.creating).toBe(1);
    healthy = true;
    await recovered.get({ timeout: 3000 });
    await idle();
    expect(p.stats).toMatchObject({ size: 2, idle: 2 });
  });

  it('a waiter that times out while create() fails says so in the Timeout message', async () => {
    const p = new ResourcePool<Conn>({
      create: async () => {
        await sleep(1);
        throw new Error('ECONNREFUSED');
      },
      max: 1,
    });
    pools.push(p);
    const first = await caught(p.acquire());
    expect(first.message).toBe('ECONNREFUSED');
    const error = await caught(p.acquire({ timeout: 0 }));
    expect(error).toBeInstanceOf(Timeout);
    expect(error.message).toContain('create() is failing: ECONNREFUSED');
  });

  it('drain() fails waiters, waits for borrowed resources, destroys everything, and later acquire() throws', async () => {
    const { p, closed } = pool({ max: 2 });
    const a = await p.acquire();
    const b = await p.acquire();
    p.release(b);
    const a2 = await p.acquire(); // b again
    expect(a2).toBe(b);
    const waiter = spawn(() => caught(p.acquire()));
    await idle();
    const drainer = spawn(() => p.drain());
    await idle();
    expect((await waiter.get()).code).toBe('ERR_POOL_DRAINED');
    expect(drainer.dead).toBe(false);
    p.release(a);
    await idle();
    expect(drainer.dead).toBe(false);
    p.release(b);
    await drainer.get();
    expect(closed.map((c) => c.id).sort()).toEqual([1, 2]);
    expect(p.stats).toEqual({ size: 0, idle: 0, borrowed: 0, waiting: 0, creating: 0 });
    expect((await caught(p.acquire())).code).toBe('ERR_POOL_DRAINED');
    await p.drain();
    await p[Symbol.asyncDispose]();
  });

  it('drain({ timeout }) gives up waiting with a Timeout; a resource released later is still destroyed', async () => {
    const { p, closed } = pool({ max: 1 });
    const conn = await p.acquire();
    expect(await caught(p.drain({ timeout: 5 }))).toBeInstanceOf(Timeout);
    p.release(conn);
    await p.drain();
    expect(closed).toEqual([conn]);
  });

  it('drain() stops a create() that is backing off', async () => {
    const p = new ResourcePool<Conn>({
      create: () => {
        throw new Error('down');
      },
      max: 1,
      min: 1,
    });
    await idle();
    expect(p.stats.creating).toBe(1);
    await p.drain();
    expect(p.stats.creating).toBe(0);
  });

  it('bad options throw coded errors at construction', () => {
    const create = () => ({ id: 1, closed: false });
    expect(() => new ResourcePool({ create, max: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(() => new ResourcePool({ create, max: 1, min: 2 })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(() => new ResourcePool({ create, max: 1, idleTimeout: -1 })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(() => new ResourcePool({ max: 1 } as unknown as ResourcePoolOptions<Conn>)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });

  it('under many callers that time out, abort or are killed, no resource is lost and max is never exceeded', async () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const { p, made, closed } = pool({ max: 3, validate: () => random() > 0.1 });
    let peak = 0;
    const callers = Array.from({ length: 60 }, (_, i) =>
      spawn(async () => {
        const controller = new AbortController();
        if (i % 7 === 0) controller.abort(new Error('early'));
        try {
          await p.use(
            async () => {
              peak = Math.max(peak, p.stats.size + p.stats.creating);
              await sleep(Math.floor(random() * 3));
            },
            { timeout: i % 3 === 0 ? Math.floor(random() * 4) : undefined, signal: controller.signal },
          );
        } catch {
          // timed out or aborted: that caller simply gives up
        }
      }),
    );
    for (let i = 0; i < callers.length; i += 5) {
      await sleep(0);
      void callers[i]!.kill(undefined, { block: false });
    }
    await Promise.all(callers.map((g) => g.join()));
    await idle();
    expect(peak).toBeLessThanOrEqual(3);
    expect(p.stats).toMatchObject({ borrowed: 0, waiting: 0, creating: 0 });
    expect(p.stats.size).toBe(made.length - closed.length);
    const all = await Promise.all([p.acquire(), p.acquire(), p.acquire()]);
    expect(new Set(all).size).toBe(3);
    for (const conn of all) p.release(conn);
  });

  it('create() backoff doubles from 10 ms up to 1 s, with half of each delay random', () => {
    expect(backoffDelay(0)).toBe(0);
    expect(backoffDelay(1, () => 0)).toBe(BACKOFF_INITIAL_MS / 2);
    expect(backoffDelay(1, () => 1)).toBe(BACKOFF_INITIAL_MS);
    expect(backoffDelay(3, () => 1)).toBe(BACKOFF_INITIAL_MS * 4);
    expect(backoffDelay(50, () => 1)).toBe(BACKOFF_MAX_MS);
    expect(backoffDelay(50, () => 0)).toBe(BACKOFF_MAX_MS / 2);
  });
});
