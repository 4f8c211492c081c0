import { inspect } from 'node:util';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import {
  configure,
  Greenlet,
  getcurrent,
  idle,
  Local,
  sleep,
  spawn,
  spawnLater,
  Timeout,
  Waiter,
} from '../src/index.js';
import { describeEachHub } from '../src/testing/index.js';

describeEachHub('Greenlet', () => {
  const reported: { error: unknown; context: string }[] = [];
  beforeEach(() => {
    reported.length = 0;
    configure({ onError: (error, context) => reported.push({ error, context }) });
  });
  afterEach(() => {
    configure({ onError: undefined });
  });

  it('spawn never runs the function synchronously, not even on the next microtask', async () => {
    const log: string[] = [];
    const g = spawn(() => {
      log.push('ran');
    });
    log.push('spawned');
    await Promise.resolve();
    await Promise.resolve();
    expect(log).toEqual(['spawned']);
    expect(await g.join()).toBe(true);
    expect(log).toEqual(['spawned', 'ran']);
  });

  it('invalid arguments throw at once, with a code', () => {
    const codeOf = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (err) {
        return (err as { code?: string }).code;
      }
      return undefined;
    };
    expect(codeOf(() => new Greenlet(42 as unknown as () => void))).toBe('ERR_INVALID_ARG_TYPE');
    expect(codeOf(() => spawnLater(-1, () => {}))).toBe('ERR_OUT_OF_RANGE');
    const g = new Greenlet(() => {});
    expect(codeOf(() => g.link('nope' as unknown as () => void))).toBe('ERR_INVALID_ARG_TYPE');
  });

  it('spawn passes its extra arguments to the function', async () => {
    const g = spawn((count: number, word: string) => word.repeat(count), 3, 'ab');
    expect(await g.get()).toBe('ababab');
  });

  it('a new Greenlet is neither started nor dead until start()', async () => {
    const g = new Greenlet(() => 1);
    expect(g.started).toBe(false);
    expect(g.dead).toBe(false);
    expect(g.ready()).toBe(false);
    g.start();
    expect(g.started).toBe(true);
    expect(await g.get()).toBe(1);
  });

  it('a greenlet that returns has its value and is ready, successful, dead and no longer started', async () => {
    const release = new Waiter<number>('release');
    const g = spawn(async () => (await release.get()) * 2);
    expect(g.started).toBe(true);
    expect(g.ready()).toBe(false);
    expect(g.dead).toBe(false);
    expect(g.successful()).toBe(false);
    expect(g.value).toBeUndefined();
    await idle();
    release.switch(21);
    await g.join();
    expect(g.value).toBe(42);
    expect(g.exception).toBeUndefined();
    expect(g.ready()).toBe(true);
    expect(g.dead).toBe(true);
    expect(g.successful()).toBe(true);
    expect(g.started).toBe(false);
  });

  it('a greenlet that throws stores the error and is ready, dead and not successful', async () => {
    const boom = new Error('boom');
    const g = spawn(async () => {
      await sleep(0);
      throw boom;
    });
    await g.join();
    expect(g.exception).toBe(boom);
    expect(g.value).toBeUndefined();
    expect(g.ready()).toBe(true);
    expect(g.dead).toBe(true);
    expect(g.successful()).toBe(false);
  });

  it('a greenlet whose function returns synchronously works like an async one', async () => {
    const ok = spawn(() => 'sync value');
    const failing = spawn((): never => {
      throw new RangeError('sync failure');
    });
    expect(await ok.get()).toBe('sync value');
    await expect(failing.get()).rejects.toThrow(RangeError);
    expect(failing.successful()).toBe(false);
  });

  it("the name defaults to the function's name and a number unique to the greenlet", async () => {
    function fetchPage(): string {
      return 'page';
    }
    const a = spawn(fetchPage);
    const b = spawn(fetchPage);
    const anonymous = spawn(() => 0);
    expect(a.name).toMatch(/^fetchPage#\d+$/);
    expect(b.name).toMatch(/^fetchPage#\d+$/);
    expect(a.name).not.toBe(b.name);
    expect(anonymous.name).toMatch(/^greenlet#\d+$/);
    await Promise.all([a.join(), b.join(), anonymous.join()]);
  });

  it('the name can be set, and toString and util.inspect show it', async () => {
    const release = new Waiter<void>('release');
    const g = spawn(() => release.get());
    g.name = 'worker-1';
    expect(String(g)).toBe('Greenlet<worker-1>');
    expect(inspect(g)).toContain('Greenlet<worker-1>');
    await idle();
    expect(inspect(g)).toContain('waiting on release');
    release.switch();
    await g.join();
    expect(inspect(g)).toContain('Greenlet<worker-1>');
    expect(inspect(g)).toContain('dead');
  });

  it('get() returns the value', async () => {
    const g = spawn(async () => {
      await sleep(1);
      return { answer: 42 };
    });
    expect(await g.get()).toEqual({ answer: 42 });
  });

  it("get() throws the greenlet's own error", async () => {
    const boom = new Error('boom');
    const g = spawn(async () => {
      await sleep(0);
      throw boom;
    });
    await expect(g.get()).rejects.toBe(boom);
    // ...every time it is asked.
    await expect(g.get()).rejects.toBe(boom);
  });

  it('get({ block: false }) on a running greenlet throws a Timeout at once', async () => {
    const release = new Waiter<string>('release');
    const g = spawn(() => release.get());
    await idle();
    const error = await g.get({ block: false }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(Timeout);
    expect((error as Timeout).code).toBe('ETIMEDOUT');
    expect(g.dead).toBe(false);
    release.switch('done');
    expect(await g.get()).toBe('done');
    expect(await g.get({ block: false })).toBe('done');
  });

  it('get({ signal }) and join(timeout, { signal }) reject with the reason when the signal aborts', async () => {
    const release = new Waiter<string>('release');
    const g = spawn(() => release.get());
    const controller = new AbortController();
    const reason = new Error('no longer interested');
    const getting = g.get({ signal: controller.signal }).catch((err: unknown) => err);
    const joining = g.join(undefined, { signal: controller.signal }).catch((err: unknown) => err);
    await idle();
    controller.abort(reason);
    expect(await getting).toBe(reason);
    expect(await joining).toBe(reason);
    expect(g.dead).toBe(false);
    release.switch('still fine');
    expect(await g.get()).toBe('still fine');
  });

  it("get({ timeout }) throws a Timeout with code 'ETIMEDOUT' and leaves the greenlet running", async () => {
    const release = new Waiter<string>('release');
    const g = spawn(() => release.get());
    const started = performance.now();
    const error = await g.get({ timeout: 20 }).catch((err: unknown) => err);
    expect(performance.now() - started).toBeGreaterThanOrEqual(20);
    expect(error).toBeInstanceOf(Timeout);
    expect((error as Timeout).code).toBe('ETIMEDOUT');
    expect(g.dead).toBe(false);
    release.switch('late');
    expect(await g.get()).toBe('late');
  });

  it('join(timeout) returns false when the time runs out, and true once the greenlet ended', async () => {
    const release = new Waiter<void>('release');
    const g = spawn(() => release.get());
    expect(await g.join(10)).toBe(false);
    expect(g.dead).toBe(false);
    release.switch();
    expect(await g.join(1000)).toBe(true);
    expect(await g.join()).toBe(true);
  });

  it('join() never throws, even when the greenlet failed', async () => {
    const g = spawn(async () => {
      await sleep(0);
      throw new Error('boom');
    });
    await expect(g.join()).resolves.toBe(true);
    await expect(g.join(5)).resolves.toBe(true);
  });

  it('join() lets a Timeout of the caller through: only its own timeout is a false return', async () => {
    const release = new Waiter<void>('release');
    const g = spawn(() => release.get());
    const joiner = spawn(async () => {
      using outer = Timeout.startNew(10);
      try {
        await g.join();
        return 'joined';
      } catch (err) {
        return err === outer ? 'outer timeout' : err;
      }
    });
    expect(await joiner.get()).toBe('outer timeout');
    release.switch();
    await g.join();
  });

  it('a rawlink callback that throws is reported, and the links after it still fire', async () => {
    const log: string[] = [];
    const g = spawn(() => 0);
    g.rawlink(() => {
      throw new Error('bad link');
    });
    g.rawlink(() => log.push('next link'));
    await g.join();
    await idle();
    expect(log).toEqual(['next link']);
    expect(reported.map((r) => (r.error as Error).message)).toEqual(['bad link']);
    expect(reported[0]?.context).toContain(g.name);
  });

  it('a Greenlet is not a thenable: awaiting it gives the greenlet itself', async () => {
    const g = spawn(() => 'value');
    expect('then' in g).toBe(false);
    expect(await Promise.resolve(g)).toBe(g);
    const fromAsync = async (): Promise<Greenlet<string>> => g;
    expect(await fromAsync()).toBe(g);
    expect(await g.get()).toBe('value');
  });

  it('start() twice is harmless, and so is start() after the greenlet ended', async () => {
    let runs = 0;
    const g = new Greenlet(() => ++runs);
    g.start();
    g.start();
    expect(await g.get()).toBe(1);
    g.start();
    await idle();
    expect(runs).toBe(1);
    expect(g.value).toBe(1);
  });

  it('spawnLater starts the greenlet after the delay, never before', async () => {
    const requested = performance.now();
    let startedAt = 0;
    const g = spawnLater(
      30,
      (tag: string) => {
        startedAt = performance.now();
        return tag;
      },
      'later',
    );
    expect(g.started).toBe(true);
    await idle();
    expect(startedAt).toBe(0);
    expect(await g.get()).toBe('later');
    expect(startedAt - requested).toBeGreaterThanOrEqual(30);
  });

  it('getcurrent() inside a greenlet returns it, across awaits and nested async calls', async () => {
    const seen: Greenlet<unknown>[] = [];
    async function nested(): Promise<void> {
      await sleep(0);
      seen.push(getcurrent());
      await Promise.resolve();
      seen.push(getcurrent());
    }
    const body = async (): Promise<void> => {
      seen.push(getcurrent());
      await sleep(1);
      seen.push(getcurrent());
      await nested();
      await new Promise<void>((resolve) => setImmediate(resolve));
      seen.push(getcurrent());
    };
    const a = spawn(body);
    const b = spawn(body);
    await Promise.all([a.join(), b.join()]);
    expect(a.successful() && b.successful()).toBe(true);
    expect(seen.filter((g) => g === a)).toHaveLength(5);
    expect(seen.filter((g) => g === b)).toHaveLength(5);
  });

  it('getcurrent() follows every kind of continuation: then/catch/finally, thenables, combinators, async generators', async () => {
    const seen: string[] = [];
    const note = (what: string): void => {
      seen.push(`${what}:${getcurrent().name}`);
    };
    async function* ticks(): AsyncGenerator<number> {
      for (let i = 0; i < 2; i++) {
        await new Promise<void>((resolve) => setTimeout(resolve, 1));
        note('generator');
        yield i;
      }
    }
    const body = async (): Promise<void> => {
      await Promise.resolve().then(() => note('then'));
      await Promise.reject(new Error('x')).catch(() => note('catch'));
      await Promise.resolve().finally(() => note('finally'));
      // biome-ignore lint/suspicious/noThenProperty: a thenable is what this step tests
      await { then: (resolve: (v: number) => void) => resolve(1) };
      note('thenable');
      await Promise.all([sleep(1), new Promise<void>((resolve) => setImmediate(resolve))]);
      note('all');
      await Promise.race([new Promise<void>((resolve) => setImmediate(resolve)), sleep(0)]);
      note('race');
      for await (const _ of ticks()) note('for-await');
      queueMicrotask(() => note('microtask'));
      await new Promise<void>((resolve) => setTimeout(resolve, 1));
      note('after');
    };
    const a = spawn(body);
    a.name = 'a';
    const b = spawn(body);
    b.name = 'b';
    await Promise.all([a.join(), b.join()]);
    expect(a.successful() && b.successful()).toBe(true);
    for (const name of ['a', 'b']) {
      expect(seen.filter((s) => s.endsWith(`:${name}`)).map((s) => s.split(':')[0])).toEqual([
        'then',
        'catch',
        'finally',
        'thenable',
        'all',
        'race',
        'generator',
        'for-await',
        'generator',
        'for-await',
        'after',
      ]);
    }
    // A queueMicrotask callback is a plain callback, not a promise reaction: it runs as main.
    expect(seen.filter((s) => s.startsWith('microtask:'))).toEqual(['microtask:main', 'microtask:main']);
  });

  it("outside any greenlet getcurrent() is the root greenlet 'main', which never dies", () => {
    const main = getcurrent();
    expect(main.name).toBe('main');
    expect(main.dead).toBe(false);
    expect(main.state).toBe('running');
    expect(getcurrent()).toBe(main);
  });

  it('link callbacks run after death, never synchronously, each in its own greenlet', async () => {
    const done = new Waiter<Greenlet<unknown>>('link ran');
    const g = spawn(() => 'value');
    let linkedFrom: Greenlet<unknown> | undefined;
    g.link((source) => {
      linkedFrom = getcurrent();
      done.switch(source);
    });
    await g.join();
    expect(await done.get({ timeout: 1000 })).toBe(g);
    expect(linkedFrom).not.toBe(g);
    expect(linkedFrom?.name).toMatch(/^link:/);
    await idle();
  });

  it('a link added after death still fires, and not synchronously', async () => {
    const g = spawn(() => 1);
    await g.join();
    const log: string[] = [];
    g.rawlink(() => log.push('raw'));
    g.link(() => {
      log.push('spawned');
    });
    log.push('linked');
    await idle();
    expect(log).toEqual(['linked', 'raw', 'spawned']);
  });

  it('links fire in the order they were added, also when added after death', async () => {
    const order: number[] = [];
    const g = spawn(() => 'x');
    for (const n of [1, 2, 3]) g.rawlink(() => order.push(n));
    for (const n of [4, 5, 6]) g.link(() => order.push(n));
    await g.join();
    await idle();
    expect(order).toEqual([1, 2, 3, 4, 5, 6]);
    for (const n of [7, 8, 9]) g.rawlink(() => order.push(n));
    await idle();
    expect(order).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('a rawlink callback runs outside any greenlet: there getcurrent() is main, even when a greenlet caused it', async () => {
    const local = new Local<string>();
    const seen: { current?: string; local?: string; spawner?: string } = {};
    const outer = spawn(async function outer() {
      local.set("outer's value");
      const target = spawn(function target() {
        return 'x';
      });
      target.rawlink(() => {
        seen.current = getcurrent().name;
        seen.local = local.get();
        seen.spawner = spawn(() => {}).spawner;
      });
      await target.join();
    });
    await outer.join();
    await idle();
    expect(seen).toEqual({ current: 'main', local: undefined, spawner: 'main' });
  });

  it('linkValue fires only on success and linkException only on failure', async () => {
    const log: string[] = [];
    const ok = spawn(() => 'fine');
    const bad = spawn((): never => {
      throw new Error('bad');
    });
    for (const [label, g] of [
      ['ok', ok],
      ['bad', bad],
    ] as const) {
      g.linkValue(() => {
        log.push(`${label}: value`);
      });
      g.linkException(() => {
        log.push(`${label}: exception`);
      });
    }
    await Promise.all([ok.join(), bad.join()]);
    await idle();
    expect(log.sort()).toEqual(['bad: exception', 'ok: value']);
  });

  it('a link can unlink a later one, which then does not fire', async () => {
    const log: string[] = [];
    const later = (): void => {
      log.push('later');
    };
    const g = spawn(() => 0);
    g.rawlink(() => {
      log.push('first');
      g.unlink(later);
    });
    g.rawlink(later);
    g.rawlink(() => log.push('last'));
    await g.join();
    await idle();
    expect(log).toEqual(['first', 'last']);
  });

  it('unlink removes a callback before death, and ignores unknown callbacks', async () => {
    const log: string[] = [];
    const cb = (): void => {
      log.push('linked');
    };
    const g = spawn(() => 0);
    g.link(cb);
    g.unlink(cb);
    g.unlink(() => {});
    const lone = spawn(() => 0);
    lone.rawlink(cb);
    lone.unlink(cb);
    await Promise.all([g.join(), lone.join()]);
    await idle();
    expect(log).toEqual([]);
  });

  it("an uncaught error is stored and reported through configure({ onError }) with the greenlet's name", async () => {
    const boom = new Error('boom');
    const g = spawn(async function fetchPage() {
      await sleep(0);
      throw boom;
    });
    await g.join();
    expect(reported).toHaveLength(1);
    expect(reported[0]?.error).toBe(boom);
    expect(reported[0]?.context).toContain(g.name);
    expect(g.exception).toBe(boom);
  });

  it('a throwing onError handler does not crash anything, and the error still reaches get()', async () => {
    const printed: string[] = [];
    const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
    try {
      configure({
        onError: () => {
          throw new Error('handler is broken');
        },
      });
      const boom = new Error('boom');
      const g = spawn(async () => {
        await sleep(0);
        throw boom;
      });
      await expect(g.get()).rejects.toBe(boom);
      // The error is printed rather than lost, and so is the handler's own.
      expect(printed.join('')).toContain('boom');
      expect(printed.join('')).toContain('handler is broken');
    } finally {
      write.mockRestore();
    }
    const after = spawn(async () => {
      await sleep(0);
      return 'still working';
    });
    expect(await after.get()).toBe('still working');
  });

  it("a greenlet's error never becomes an unhandled rejection", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const asyncFailure = spawn(async () => {
        await sleep(0);
        throw new Error('async failure');
      });
      const syncFailure = spawn((): never => {
        throw new Error('sync failure');
      });
      await Promise.all([asyncFailure.join(), syncFailure.join()]);
      await idle();
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
      expect(reported).toHaveLength(2);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
