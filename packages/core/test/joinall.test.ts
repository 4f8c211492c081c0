import { afterAll, expect, it } from 'vitest';
import {
  type Greenlet,
  GreenletExit,
  getHub,
  idle,
  iwait,
  joinall,
  killall,
  sleep,
  spawn,
  Timeout,
  type Waitable,
  Waiter,
  wait,
} from '../src/index.js';
import { captureReportedErrors, describeEachHub } from '../src/testing/index.js';
import { CORE_URL, describeEachChildHub, runScript, scratchDir } from './helpers/child.js';

/** A greenlet that finishes (or fails) when the test says so. */
interface Gated {
  g: Greenlet<string>;
  finish(): void;
  fail(error: unknown): void;
}

function gated(name: string): Gated {
  const gate = new Waiter<(() => string) | undefined>(`gate ${name}`);
  const g = spawn(async () => {
    const outcome = await gate.get();
    return outcome ? outcome() : name;
  });
  g.name = name;
  return {
    g,
    finish: () => {
      gate.switch(undefined);
    },
    fail: (error) => {
      gate.switch(() => {
        throw error;
      });
    },
  };
}

/** Finish each in turn, one hub turn apart, from a greenlet of its own. */
function finishInOrder(steps: (() => void)[]): Greenlet<void> {
  return spawn(async () => {
    for (const step of steps) {
      step();
      await sleep(0);
    }
  });
}

/** A minimal Waitable that counts its links, to see that wait/iwait unlink. */
class Flag implements Waitable {
  readonly links = new Set<(flag: this) => void>();
  #set = false;

  ready(): boolean {
    return this.#set;
  }

  set(): void {
    this.#set = true;
    for (const cb of this.links) this.#notify(cb);
  }

  rawlink(cb: (flag: this) => void): void {
    this.links.add(cb);
    if (this.#set) this.#notify(cb);
  }

  unlink(cb: (flag: this) => void): void {
    this.links.delete(cb);
  }

  #notify(cb: (flag: this) => void): void {
    getHub().callback(() => {
      if (this.links.has(cb)) cb(this);
    });
  }
}

describeEachHub('joinall, killall, wait and iwait', () => {
  const reported = captureReportedErrors();

  it('joinall returns the greenlets in the order they ended', async () => {
    const [a, b, c] = [gated('a'), gated('b'), gated('c')];
    const driver = finishInOrder([b.finish, c.finish, a.finish]);
    const done = await joinall([a.g, b.g, c.g]);
    expect(done.map((g) => g.name)).toEqual(['b', 'c', 'a']);
    await driver.join();
  });

  it('joinall of greenlets that already ended returns them all', async () => {
    const gs = [spawn(() => 1), spawn(() => 2)];
    await sleep(0);
    expect((await joinall(gs)).length).toBe(2);
    expect(await joinall([])).toEqual([]);
  });

  it('joinall({ count }) returns once that many have ended', async () => {
    const [a, b, c] = [gated('a'), gated('b'), gated('c')];
    const driver = finishInOrder([c.finish, a.finish]);
    const done = await joinall([a.g, b.g, c.g], { count: 2 });
    expect(done.map((g) => g.name)).toEqual(['c', 'a']);
    expect(b.g.dead).toBe(false);
    b.finish();
    await Promise.all([b.g.join(), driver.join()]);
  });

  it('joinall({ timeout }) returns fewer greenlets when time runs out, without throwing', async () => {
    const fast = spawn(() => 'fast');
    const slow = gated('slow');
    const started = performance.now();
    const done = await joinall([fast, slow.g], { timeout: 20 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(20);
    expect(done).toEqual([fast]);
    slow.finish();
    await slow.g.join();
  });

  it('joinall never throws a failure without raiseError', async () => {
    const failing = spawn((): never => {
      throw new Error('boom');
    });
    const ok = spawn(() => 'ok');
    expect(await joinall([failing, ok])).toHaveLength(2);
  });

  it('joinall({ raiseError }) throws the first failure to complete, not the first in the list', async () => {
    const [first, second, third] = [gated('first'), gated('second'), gated('third')];
    const earlyError = new Error('fails first');
    const lateError = new Error('fails later');
    const driver = finishInOrder([
      () => second.finish(),
      () => third.fail(earlyError),
      () => first.fail(lateError),
    ]);
    await expect(joinall([first.g, second.g, third.g], { raiseError: true })).rejects.toBe(earlyError);
    await driver.join();
    await joinall([first.g, second.g, third.g]);
    expect(reported).toEqual([earlyError, lateError]);
  });

  it('killall: greenlets that have not started never run, and all are dead afterwards', async () => {
    const ran: string[] = [];
    const running = spawn(async () => {
      ran.push('running');
      await sleep(60_000);
    });
    await idle();
    const unstarted = [1, 2, 3].map((n) => spawn(() => ran.push(`unstarted ${n}`)));
    await killall([running, ...unstarted]);
    expect([running, ...unstarted].every((g) => g.dead)).toBe(true);
    expect([running, ...unstarted].every((g) => g.value instanceof GreenletExit)).toBe(true);
    await idle();
    expect(ran).toEqual(['running']);
  });

  it('killall with an error makes each greenlet fail with it', async () => {
    const error = new Error('shutdown');
    const gs = [spawn(() => sleep(60_000)), spawn(() => sleep(60_000))];
    await idle();
    await killall(gs, error);
    expect(gs.map((g) => g.exception)).toEqual([error, error]);
  });

  it('killall with an error class makes each greenlet fail with an instance of it', async () => {
    class Shutdown extends Error {}
    const gs = [spawn(() => sleep(60_000)), spawn(() => sleep(60_000))];
    await idle();
    await killall(gs, Shutdown);
    expect(gs.every((g) => g.exception instanceof Shutdown)).toBe(true);
  });

  it('killall({ block: false }) returns before the greenlets have died', async () => {
    const gs = [1, 2].map(() =>
      spawn(async () => {
        try {
          await sleep(60_000);
        } finally {
          await sleep(5);
        }
      }),
    );
    await idle();
    await killall(gs, undefined, { block: false });
    expect(gs.some((g) => g.dead)).toBe(false);
    expect(await joinall(gs, { timeout: 1000 })).toHaveLength(2);
  });

  it('killall({ timeout }) throws a Timeout when a greenlet that ignores GreenletExit is still alive', async () => {
    let giveUp = false;
    const diehard = spawn(async () => {
      for (;;) {
        try {
          await sleep(60_000);
        } catch (err) {
          if (giveUp) throw err;
        }
      }
    });
    const polite = spawn(() => sleep(60_000));
    await idle();
    const error = await killall([diehard, polite], undefined, { timeout: 20 }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(Timeout);
    expect((error as Timeout).code).toBe('ETIMEDOUT');
    expect(polite.dead).toBe(true);
    expect(diehard.dead).toBe(false);
    giveUp = true;
    await diehard.kill();
  });

  it('wait(objects) returns them in the order they became ready', async () => {
    const [a, b] = [gated('a'), gated('b')];
    const flag = new Flag();
    const driver = finishInOrder([b.finish, () => flag.set(), a.finish]);
    const ready = await wait([a.g, flag, b.g]);
    expect(ready).toEqual([b.g, flag, a.g]);
    expect(flag.links.size).toBe(0);
    await driver.join();
  });

  it('wait(objects, { count }) returns once that many are ready', async () => {
    const [a, b] = [gated('a'), gated('b')];
    const flag = new Flag();
    const driver = finishInOrder([() => flag.set(), b.finish]);
    const ready = await wait([a.g, b.g, flag], { count: 2 });
    expect(ready).toEqual([flag, b.g]);
    expect(flag.links.size).toBe(0);
    a.finish();
    await Promise.all([a.g.join(), driver.join()]);
  });

  it('wait(objects, { timeout }) returns the ready ones when time runs out, without throwing', async () => {
    const flag = new Flag();
    const done = spawn(() => 'done');
    const started = performance.now();
    const ready = await wait([flag, done], { timeout: 20 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(20);
    expect(ready).toEqual([done]);
    expect(flag.links.size).toBe(0);
  });

  it('a zero timeout polls: wait and joinall return what is already ready', async () => {
    for (let round = 0; round < 20; round++) {
      const flag = new Flag();
      flag.set();
      const done = [spawn(() => 1), spawn(() => 2)];
      await joinall(done);
      const pending = gated('pending');
      expect(await wait([...done, flag, pending.g], { timeout: 0 })).toEqual([...done, flag]);
      expect(await joinall([...done, pending.g], { timeout: 0 })).toEqual(done);
      pending.finish();
      await pending.g.join();
    }
  });

  it('iwait yields each object as it becomes ready', async () => {
    const [a, b, c] = [gated('a'), gated('b'), gated('c')];
    const driver = finishInOrder([c.finish, a.finish, b.finish]);
    const seen: string[] = [];
    for await (const g of iwait([a.g, b.g, c.g])) {
      seen.push(g.name);
      // Each one is dead by the time it is yielded.
      expect(g.dead).toBe(true);
    }
    expect(seen).toEqual(['c', 'a', 'b']);
    await driver.join();
  });

  it('a greenlet killed while blocked in wait() is unlinked from every object', async () => {
    const flags = [new Flag(), new Flag()];
    const g = spawn(() => wait(flags));
    await idle();
    expect(flags.map((f) => f.links.size)).toEqual([1, 1]);
    await g.kill();
    expect(flags.map((f) => f.links.size)).toEqual([0, 0]);
  });

  it('breaking out of iwait early unlinks from every object', async () => {
    const flags = [new Flag(), new Flag(), new Flag()];
    flags[1]?.set();
    for await (const flag of iwait(flags)) {
      expect(flag).toBe(flags[1]);
      expect(flags.every((f) => f.links.size === 1)).toBe(true);
      break;
    }
    expect(flags.map((f) => f.links.size)).toEqual([0, 0, 0]);
  });

  it('an aborted signal ends joinall, wait and iwait with its reason and unlinks everything', async () => {
    const flags = [new Flag(), new Flag()];
    const running = gated('still-running');
    const reason = new Error('caller gave up');
    const controller = new AbortController();
    const outcomes = Promise.allSettled([
      joinall([running.g], { signal: controller.signal }),
      wait(flags, { signal: controller.signal }),
      (async () => {
        for await (const _ of iwait(flags, { signal: controller.signal })) {
          // never ready
        }
      })(),
    ]);
    await idle();
    controller.abort(reason);
    const settled = await outcomes;
    expect(settled.map((o) => (o.status === 'rejected' ? o.reason : o.status))).toEqual([
      reason,
      reason,
      reason,
    ]);
    expect(flags.map((f) => f.links.size)).toEqual([0, 0]);
    running.finish();
    await running.g.join();
  });
});

describeEachChildHub('wait() without objects (child process)', (hub) => {
  const scratch = scratchDir(`wait-${hub}`);
  afterAll(() => scratch.remove());

  it('resolves once the process has nothing left to do', async () => {
    const result = await runScript(
      scratch.dir,
      'wait-drained.mjs',
      [
        `import { sleep, spawn, wait } from ${JSON.stringify(CORE_URL)};`,
        'const gs = [spawn(() => sleep(20)), spawn(async () => { await sleep(5); await sleep(10); })];',
        'const ready = await wait();',
        'console.log(JSON.stringify({ ready, allDead: gs.every((g) => g.dead) }));',
        '',
      ].join('\n'),
      { env: { GREENHUB_HUB: hub } },
    );
    expect(result.timedOut).toBe(false);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ ready: [], allDead: true });
  });

  it('with a timeout, returns when time runs out even though other work keeps the loop busy', async () => {
    const result = await runScript(
      scratch.dir,
      'wait-timeout.mjs',
      [
        `import { sleep, spawn, wait } from ${JSON.stringify(CORE_URL)};`,
        'const busy = spawn(() => sleep(60_000));',
        'const started = performance.now();',
        'await wait(undefined, { timeout: 30 });',
        'const elapsed = performance.now() - started;',
        'await busy.kill();',
        'console.log(JSON.stringify({ elapsed, busyDead: busy.dead }));',
        '',
      ].join('\n'),
      { env: { GREENHUB_HUB: hub } },
    );
    expect(result.timedOut).toBe(false);
    expect(result.code, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout) as { elapsed: number; busyDead: boolean };
    expect(out.elapsed).toBeGreaterThanOrEqual(30);
    expect(out.elapsed).toBeLessThan(5000);
    expect(out.busyDead).toBe(true);
  });
});
