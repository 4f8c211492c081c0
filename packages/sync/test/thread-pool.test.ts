import { spawn as spawnProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configure, GreenletExit, getSettings, idle, sleep, spawn, Timeout } from '@greenhub/core';
import { describeEachHub } from '@greenhub/core/testing';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { ThreadPool } from '../src/thread-pool.js';

const TASKS = new URL('./fixtures/thread-pool-tasks.mjs', import.meta.url);
const CJS_TASKS = fileURLToPath(new URL('./fixtures/thread-pool-tasks.cjs', import.meta.url));
const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

/** Shared flags between the test and its tasks: an Int32Array over a SharedArrayBuffer. */
function flags(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * 8));
}

function release(shared: Int32Array): void {
  Atomics.store(shared, 2, 1);
  Atomics.notify(shared, 2);
}

async function caught(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}

describeEachHub('ThreadPool', () => {
  const pools: ThreadPool[] = [];
  const pool = (size?: number, filename: string | URL = TASKS): ThreadPool => {
    const p = new ThreadPool({ filename, size });
    pools.push(p);
    return p;
  };
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.destroy()));
  });

  it('run(name, ...args) calls that export in a worker thread and resolves with its result', async () => {
    const p = pool(2);
    expect(await p.run<number>('add', 2, 3)).toBe(5);
    const { value, threadId } = await p.run<{ value: string; threadId: number }>('echoLater', 'hi', 1);
    expect(value).toBe('hi');
    expect(threadId).toBeGreaterThan(0);
  });

  it('a CommonJS task module works too, named by a plain path', async () => {
    const p = pool(1, CJS_TASKS);
    expect(await p.run<number>('multiply', 6, 7)).toBe(42);
    expect(await p.run<string>('greet', 'gevent')).toBe('hello gevent');
  });

  it('workers start lazily, never more than size, and tasks wait their turn in FIFO order', async () => {
    const p = pool(1);
    expect(p.stats).toEqual({ workers: 0, busy: 0, queued: 0 });
    const shared = flags();
    const blocker = spawn(() => p.run('blockUntilReleased', shared));
    const order = [spawn(() => p.run('ticket', shared)), spawn(() => p.run('ticket', shared))];
    order.push(spawn(() => p.run('ticket', shared)));
    await idle();
    expect(p.stats).toEqual({ workers: 1, busy: 1, queued: 3 });
    release(shared);
    await blocker.join();
    expect(await Promise.all(order.map((g) => g.get()))).toEqual([0, 1, 2]);
    expect(p.stats).toEqual({ workers: 1, busy: 0, queued: 0 });
  });

  it('size defaults to configure({ threadpoolSize }) (GREENHUB_THREADPOOL_SIZE), else 4', () => {
    const before = getSettings().threadpoolSize;
    try {
      configure({ threadpoolSize: 3 });
      expect(new ThreadPool({ filename: TASKS }).size).toBe(3);
    } finally {
      configure({ threadpoolSize: before });
    }
    if (process.env.GREENHUB_THREADPOOL_SIZE === undefined)
      expect(new ThreadPool({ filename: TASKS }).size).toBe(4);
    expect(() => new ThreadPool({ filename: TASKS, size: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
  });

  it("an unknown export name rejects with code ERR_THREADPOOL_UNKNOWN_TASK listing the module's functions", async () => {
    const p = pool(1);
    const missing = await caught(p.run('nope'));
    expect(missing.code).toBe('ERR_THREADPOOL_UNKNOWN_TASK');
    expect(missing.message).toContain("no exported function 'nope'");
    expect(missing.message).toContain('(its function exports: add, blockUntilReleased, crashLater,');
    const notFunction = await caught(p.run('notAFunction'));
    expect(notFunction.code).toBe('ERR_THREADPOOL_UNKNOWN_TASK');
    expect(await p.run('add', 1, 1)).toBe(2);
  });

  it('a missing module fails at construction, one that does not load fails each run with ERR_THREADPOOL_MODULE_LOAD', async () => {
    expect(() => new ThreadPool({ filename: '/nonexistent/tasks.mjs' })).toThrow(
      expect.objectContaining({ code: 'ERR_THREADPOOL_MODULE_NOT_FOUND' }),
    );
    const dir = mkdtempSync(path.join(tmpdir(), 'greenhub-thread-pool-broken-'));
    try {
      const broken = path.join(dir, 'broken.mjs');
      writeFileSync(broken, 'export function oops( {\n');
      const p = pool(1, broken);
      const error = await caught(p.run('oops'));
      expect(error.code).toBe('ERR_THREADPOOL_MODULE_LOAD');
      expect(error.message).toContain('broken.mjs');
      expect((error.cause as Error).name).toBe('SyntaxError');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a task's error keeps its class, name, message, code, own properties and worker-side stack", async () => {
    const p = pool(1);
    const error = await caught(p.run('failWithCode', 'bad input'));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.name).toBe('RangeError');
    expect(error.message).toBe('bad input');
    expect(error.code).toBe('E_TASK_FAILED');
    expect(error.detail).toEqual({ retry: false });
    expect(error.stack).toContain('failWithCode');
    expect(error.stack).toContain('thread-pool-tasks.mjs');
    expect(error.stack).toContain("ThreadPool task 'failWithCode'");

    const custom = await caught(p.run('rejectCustom'));
    expect(custom.name).toBe('QuotaError');
    expect(custom.message).toBe('over quota');
    expect((custom.cause as Error).message).toBe('disk full');

    await expect(p.run('throwString')).rejects.toBe('plain string');
  });

  it('arguments or a result that structured clone refuses reject with ERR_THREADPOOL_UNCLONEABLE', async () => {
    const p = pool(1);
    const badArgs = await caught(p.run('add', () => 1, 2));
    expect(badArgs.code).toBe('ERR_THREADPOOL_UNCLONEABLE');
    const badResult = await caught(p.run('returnFunction'));
    expect(badResult.code).toBe('ERR_THREADPOOL_UNCLONEABLE');
    expect(await p.run('add', 1, 2)).toBe(3);
  });

  it("killing one caller cancels only its task: the sibling's task on another worker finishes and no worker is replaced", async () => {
    const p = pool(2);
    const warmup = await Promise.all([
      p.run<{ threadId: number }>('echoLater', 'a', 30),
      p.run<{ threadId: number }>('echoLater', 'b', 30),
    ]);
    const threads = new Set(warmup.map((r) => r.threadId));
    expect(threads.size).toBe(2);

    const shared = flags();
    const sibling = spawn(() => p.run<{ value: string; threadId: number }>('echoLater', 'sibling', 300));
    const victim = spawn(() => p.run('untilAborted', shared));
    await idle();
    expect(p.stats).toEqual({ workers: 2, busy: 2, queued: 0 });

    const started = performance.now();
    await victim.kill();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(victim.dead).toBe(true);

    // The cancelled task stopped on its signal, so its worker is free before the sibling's.
    const next = await p.run<number>('whoami');
    expect(Atomics.load(shared, 0)).toBe(1);
    const { value, threadId } = await sibling.get();
    expect(value).toBe('sibling');
    expect(new Set([threadId, next])).toEqual(threads);
    expect(p.stats.workers).toBe(2);
  });

  it('a task that ignores its signal runs to completion, its result is discarded, and its worker serves the next task', async () => {
    const p = pool(1);
    const thread = await p.run<number>('whoami');
    const shared = flags();
    try {
      const caller = spawn(() => p.run('blockUntilReleased', shared));
      await idle();
      await caller.kill();
      expect(caller.dead).toBe(true);
      const next = spawn(() => p.run<number>('whoami'));
      await idle();
      expect(p.stats).toEqual({ workers: 1, busy: 1, queued: 1 });
      release(shared);
      expect(await next.get()).toBe(thread);
      expect(Atomics.load(shared, 1)).toBe(1);
      expect(p.stats.workers).toBe(1);
    } finally {
      release(shared);
    }
  });

  it('a queued task whose caller is killed is dropped and never runs', async () => {
    const p = pool(1);
    const shared = flags();
    try {
      const blocker = spawn(() => p.run('blockUntilReleased', shared));
      const dropped = spawn(() => p.run('mark', shared, 3));
      await idle();
      expect(p.stats.queued).toBe(1);
      await dropped.kill();
      expect(p.stats.queued).toBe(0);
      release(shared);
      await blocker.get();
      await p.run('mark', shared, 4);
      expect(Atomics.load(shared, 3)).toBe(0);
      expect(Atomics.load(shared, 4)).toBe(1);
    } finally {
      release(shared);
    }
  });

  it("a firing Timeout in the caller interrupts the wait and aborts the task's signal", async () => {
    const p = pool(1);
    const shared = flags();
    await p.run('whoami'); // started, so the task below surely begins before it is cancelled
    const g = spawn(async () => {
      using _ = Timeout.startNew(20);
      return await caught(p.run('untilAborted', shared));
    });
    const error = await g.get();
    expect(error).toBeInstanceOf(Timeout);
    await p.run('whoami');
    expect(Atomics.load(shared, 0)).toBe(1);
  });

  it('runWith({ timeout }) rejects with a Timeout (code ETIMEDOUT) naming the task, and cancels it', async () => {
    const p = pool(1);
    const shared = flags();
    await p.run('whoami'); // started, so the task below surely begins before it is cancelled
    const error = await caught(p.runWith({ timeout: 20 }, 'untilAborted', shared));
    expect(error).toBeInstanceOf(Timeout);
    expect(error.code).toBe('ETIMEDOUT');
    expect(error.message).toContain("ThreadPool task 'untilAborted' did not finish within 20 ms");
    await p.run('whoami');
    expect(Atomics.load(shared, 0)).toBe(1);
  });

  it("runWith({ signal }) rejects with the signal's reason and cancels; an aborted signal never starts the task", async () => {
    const p = pool(1);
    const shared = flags();
    await p.run('whoami'); // started, so the task below surely begins before it is cancelled
    const controller = new AbortController();
    const g = spawn(() => caught(p.runWith({ signal: controller.signal }, 'untilAborted', shared)));
    await idle();
    const reason = new Error('user went away');
    controller.abort(reason);
    expect(await g.get()).toBe(reason);
    await p.run('whoami');
    expect(Atomics.load(shared, 0)).toBe(1);

    await expect(p.runWith({ signal: AbortSignal.abort(reason) }, 'mark', shared, 5)).rejects.toBe(reason);
    await p.run('whoami');
    expect(Atomics.load(shared, 5)).toBe(0);
  });

  it('under many callers that time out or are killed, every other caller gets its own result and the pool ends idle', async () => {
    const p = pool(3);
    const callers = Array.from({ length: 40 }, (_, i) =>
      spawn(async () => {
        try {
          const { value } = await p.runWith<{ value: number }>(
            { timeout: i % 4 === 0 ? 5 : undefined },
            'echoLater',
            i,
            i % 3,
          );
          return value;
        } catch {
          return 'gave up';
        }
      }),
    );
    for (let i = 1; i < callers.length; i += 6) {
      await sleep(0);
      void callers[i]!.kill(undefined, { block: false });
    }
    await Promise.all(callers.map((g) => g.join()));
    callers.forEach((g, i) => {
      if (g.value !== 'gave up' && !(g.value instanceof GreenletExit)) expect(g.value).toBe(i);
    });
    expect(
      callers.filter((_g, i) => i % 4 !== 0 && (i - 1) % 6 !== 0).every((g) => typeof g.value === 'number'),
    ).toBe(true);
    expect(await p.run('add', 1, 1)).toBe(2);
    expect(p.stats).toEqual({ workers: 3, busy: 0, queued: 0 });
  });

  it('process.exit() in a task rejects it with ERR_THREADPOOL_WORKER_EXITED and the worker is replaced', async () => {
    const p = pool(1);
    const before = await p.run<number>('whoami');
    const error = await caught(p.run('exitWorker', 3));
    expect(error.code).toBe('ERR_THREADPOOL_WORKER_EXITED');
    expect(error.message).toContain('exited with code 3');
    expect(p.stats.workers).toBe(0);
    const after = await p.run<number>('whoami');
    expect(after).not.toBe(before);
    expect(p.stats.workers).toBe(1);
  });

  it('an uncaught error in a worker rejects its task with ERR_THREADPOOL_WORKER_CRASHED and the worker is replaced', async () => {
    const p = pool(1);
    const error = await caught(p.run('crashLater'));
    expect(error.code).toBe('ERR_THREADPOOL_WORKER_CRASHED');
    expect((error.cause as Error).message).toBe('boom from a timer');
    expect(await p.run('add', 2, 2)).toBe(4);
  });

  it('destroy() rejects running and queued tasks and later runs with ERR_THREADPOOL_DESTROYED; it is idempotent', async () => {
    const p = pool(1);
    const shared = flags();
    try {
      const running = spawn(() => caught(p.run('blockUntilReleased', shared)));
      const queued = spawn(() => caught(p.run('add', 1, 2)));
      await idle();
      const destroyed = p.destroy();
      expect(p.destroy()).toBe(destroyed);
      expect((await running.get()).code).toBe('ERR_THREADPOOL_DESTROYED');
      expect((await queued.get()).code).toBe('ERR_THREADPOOL_DESTROYED');
      await destroyed;
      expect(p.stats).toEqual({ workers: 0, busy: 0, queued: 0 });
      expect((await caught(p.run('add', 1, 2))).code).toBe('ERR_THREADPOOL_DESTROYED');
      await p[Symbol.asyncDispose]();
    } finally {
      release(shared);
    }
  });
});

describeEachHub('ThreadPool in a separate process, bundled as minified ESM and as CommonJS', (hub) => {
  let dir = '';
  beforeAll(async () => {
    mkdirSync(path.join(PACKAGE_DIR, 'node_modules'), { recursive: true });
    // Inside the package, so that the bundles resolve @greenhub/core (and the hub) as an app would.
    dir = mkdtempSync(path.join(PACKAGE_DIR, 'node_modules', '.thread-pool-child-'));
    for (const format of ['esm', 'cjs'] as const) {
      await build({
        entryPoints: [fileURLToPath(new URL('../src/thread-pool.ts', import.meta.url))],
        outfile: path.join(dir, format === 'esm' ? 'thread-pool.mjs' : 'thread-pool.cjs'),
        bundle: true,
        platform: 'node',
        format,
        target: 'node20',
        external: ['@greenhub/core'],
        // What bundlers do to function bodies must not reach the worker's code.
        minify: format === 'esm',
        keepNames: format === 'esm',
        logLevel: 'silent',
      });
    }
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function runChild(
    file: string,
    source: string,
    env: Record<string, string>,
  ): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
    writeFileSync(path.join(dir, file), source);
    return new Promise((resolve, reject) => {
      const child = spawnProcess(process.execPath, [file], {
        cwd: dir,
        env: { ...process.env, NODE_OPTIONS: '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
      child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, 10_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr, timedOut });
      });
    });
  }

  const script = (load: string): string => `
${load}
const tasks = ${JSON.stringify(TASKS.href)};
const pool = new ThreadPool({ filename: tasks });
console.log('size', pool.size);
const g = spawn(() => pool.run('add', 2, 3));
g.get().then((sum) => {
  console.log('sum', sum, 'workers', pool.stats.workers);
  // Nothing awaits this task: only its referenced worker keeps the process alive until it ends.
  pool.run('echoLater', 'late', 200).then((r) => console.log('late', r.value));
});
// The pool is never destroyed: once idle, its worker must not keep the process alive.
`;

  it('an idle pool does not keep the process alive, a running task does, and GREENHUB_THREADPOOL_SIZE sets the size', async () => {
    const esm = await runChild(
      'child.mjs',
      script(`import { spawn } from '@greenhub/core';\nimport { ThreadPool } from './thread-pool.mjs';`),
      { GREENHUB_THREADPOOL_SIZE: '3', GREENHUB_HUB: hub },
    );
    const cjs = await runChild(
      'child.cjs',
      script(
        `const { spawn } = require('@greenhub/core');\nconst { ThreadPool } = require('./thread-pool.cjs');`,
      ),
      { GREENHUB_THREADPOOL_SIZE: '3', GREENHUB_HUB: hub },
    );
    for (const result of [esm, cjs]) {
      expect(result.stderr).toBe('');
      expect(result.timedOut).toBe(false);
      expect(result.code).toBe(0);
      expect(result.stdout).toBe('size 3\nsum 5 workers 1\nlate late\n');
    }
  });
});
