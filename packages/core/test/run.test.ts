/**
 * run(main) is a program's entry point, so each case runs in its own Node
 * process, once per available hub, and is bounded in time.
 */
import { afterAll, expect, it } from 'vitest';
import {
  CORE_URL,
  describeEachChildHub,
  occurrences,
  runScript,
  scratchDir,
  startScript,
} from './helpers/child.js';

const header = `import { GreenletExit, LoopExit, run, sleep, spawn, Waiter, wait } from ${JSON.stringify(CORE_URL)};\n`;

describeEachChildHub('run(main)', (hub) => {
  const env = { GREENHUB_HUB: hub };
  const scratch = scratchDir(`run-${hub}`);
  afterAll(() => scratch.remove());

  it("resolves with main's value, and the process then exits by itself", async () => {
    const result = await runScript(
      scratch.dir,
      'value.mjs',
      `${header}
const value = await run(async function main() {
  await sleep(1);
  return { answer: 42 };
});
console.log(JSON.stringify(value));
`,
      { env },
    );
    expect(result.timedOut).toBe(false);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe('{"answer":42}');
  });

  it("rejects with main's error, which is not also reported as a greenlet error", async () => {
    const result = await runScript(
      scratch.dir,
      'caught.mjs',
      `${header}
try {
  await run(async function main() {
    await sleep(1);
    throw new Error('boom from main');
  });
} catch (err) {
  console.log('caught: ' + err.message);
}
`,
      { env },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe('caught: boom from main');
    expect(result.stderr).not.toContain('boom from main');
  });

  it("an uncaught rejection of run() prints main's error once, not twice", async () => {
    const result = await runScript(
      scratch.dir,
      'uncaught.mjs',
      `${header}
await run(async function main() {
  await sleep(1);
  throw new Error('boom from main');
});
`,
      { env },
    );
    expect(result.timedOut).toBe(false);
    expect(result.code).toBe(1);
    expect(occurrences(result.stderr, 'Error: boom from main')).toBe(1);
  });

  it("an error in another greenlet is printed with that greenlet's name and does not end run()", async () => {
    const result = await runScript(
      scratch.dir,
      'other-fails.mjs',
      `${header}
const value = await run(async function main() {
  const worker = spawn(async function flakyWorker() {
    await sleep(1);
    throw new Error('worker broke');
  });
  await worker.join();
  return worker.dead ? 'main carried on' : 'worker alive';
});
console.log(value);
`,
      { env },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe('main carried on');
    expect(result.stderr).toMatch(/flakyWorker#\d+/);
    expect(occurrences(result.stderr, 'Error: worker broke')).toBe(1);
  });

  it('a main that waits on something that can no longer happen rejects with LoopExit naming the wait', async () => {
    const result = await runScript(
      scratch.dir,
      'loop-exit.mjs',
      `${header}
try {
  await run(async function main() {
    const stuck = spawn(async function stuck() {
      await new Waiter('orphan reply').get();   // nothing will ever switch it
    });
    await stuck.join();
  });
  console.log('resolved');
} catch (err) {
  console.log(JSON.stringify({ isLoopExit: err instanceof LoopExit, code: err.code, message: err.message }));
}
`,
      { env },
    );
    expect(result.timedOut).toBe(false);
    expect(result.code, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout) as { isLoopExit: boolean; code: string; message: string };
    expect(out.isLoopExit).toBe(true);
    expect(out.code).toBe('ERR_LOOP_EXIT');
    expect(out.message).toContain('join');
    expect(out.message).toContain('stuck');
    expect(out.message).toContain('orphan reply');
  });

  it('LoopExit also names a Waiter that main itself waits on', async () => {
    const result = await runScript(
      scratch.dir,
      'loop-exit-main.mjs',
      `${header}
await run(async function main() {
  await new Waiter('config reload').get();
}).catch((err) => console.log(err.name + ': ' + err.message));
`,
      { env },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('LoopExit');
    expect(result.stdout).toContain('config reload');
  });

  it('a main awaiting a promise outside greenhub that never settles rejects with LoopExit saying so', async () => {
    const result = await runScript(
      scratch.dir,
      'loop-exit-promise.mjs',
      `${header}
await run(async function main() {
  await new Promise(() => {});
}).catch((err) => console.log(err.name + ': ' + err.message));
`,
      { env },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('LoopExit');
    expect(result.stdout).toContain('a promise outside greenhub');
  });

  it('inside run(), wait() without objects resolves once the loop is empty, instead of a LoopExit', async () => {
    const result = await runScript(
      scratch.dir,
      'wait-drained.mjs',
      `${header}
const value = await run(async function main() {
  const worker = spawn(() => sleep(20));
  await wait();
  return worker.dead ? 'drained' : 'worker still alive';
});
console.log(value);
`,
      { env },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe('drained');
  });

  it('after wait() returns, a main stuck on something else still gets its LoopExit', async () => {
    const result = await runScript(
      scratch.dir,
      'wait-then-stuck.mjs',
      `${header}
await run(async function main() {
  await wait();
  await new Waiter('second wait').get();
}).catch((err) => console.log(err.name + ': ' + err.message));
`,
      { env },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('LoopExit');
    expect(result.stdout).toContain('second wait');
  });

  it('SIGINT kills main with GreenletExit: its finally block runs and the exit code is 130', async () => {
    const child = startScript(
      scratch.dir,
      'sigint.mjs',
      `${header}
const result = await run(async function main() {
  try {
    console.log('ready');
    await sleep(60_000);
  } catch (err) {
    console.log('caught ' + err.name);
    throw err;
  } finally {
    console.log('finally ran');
  }
});
console.log('run resolved with ' + (result instanceof GreenletExit ? 'GreenletExit' : String(result)));
`,
      { env },
    );
    await child.line('ready');
    child.process.kill('SIGINT');
    const result = await child.exited;
    expect(result.timedOut).toBe(false);
    expect(result.code, result.stderr).toBe(130);
    expect(result.stdout).toContain('caught GreenletExit');
    expect(result.stdout).toContain('finally ran');
    expect(result.stdout).toContain('run resolved with GreenletExit');
  });

  it('a second SIGINT exits at once when shutdown hangs', async () => {
    const child = startScript(
      scratch.dir,
      'sigint-twice.mjs',
      `${header}
await run(async function main() {
  try {
    console.log('ready');
    await sleep(60_000);
  } finally {
    console.log('shutting down');
    await sleep(60_000);   // a shutdown that hangs
  }
});
`,
      { env, timeoutMs: 15_000 },
    );
    await child.line('ready');
    child.process.kill('SIGINT');
    await child.line('shutting down');
    const secondAt = performance.now();
    child.process.kill('SIGINT');
    const result = await child.exited;
    expect(result.timedOut).toBe(false);
    expect(performance.now() - secondAt).toBeLessThan(5000);
    // Node's default action for SIGINT: killed by the signal (or exit code 130).
    expect(
      result.signal === 'SIGINT' || result.code === 130,
      `signal ${result.signal}, code ${result.code}`,
    ).toBe(true);
  });

  it('SIGTERM also kills main gracefully, with exit code 143', async () => {
    const child = startScript(
      scratch.dir,
      'sigterm.mjs',
      `${header}
await run(async function main() {
  try {
    console.log('ready');
    await sleep(60_000);
  } finally {
    console.log('finally ran');
  }
});
`,
      { env },
    );
    await child.line('ready');
    child.process.kill('SIGTERM');
    const result = await child.exited;
    expect(result.code, result.stderr).toBe(143);
    expect(result.stdout).toContain('finally ran');
  });
});
