import { afterAll, expect, it } from 'vitest';
import { configure, type Greenlet, getcurrent, idle, signalHandler, Waiter } from '../src/index.js';
import { describeEachHub } from '../src/testing/index.js';
import { CORE_URL, describeEachChildHub, runScript, scratchDir } from './helpers/child.js';

/** Resolves on the next SIGUSR2 seen by a plain Node listener (which also keeps Node from exiting on it). */
function nodeSawSignal(): { seen: Promise<void>; remove(): void } {
  let listener: (() => void) | undefined;
  const seen = new Promise<void>((resolve) => {
    listener = () => resolve();
    process.on('SIGUSR2', listener);
  });
  return { seen, remove: () => process.off('SIGUSR2', listener!) };
}

describeEachHub('signalHandler', () => {
  it("runs the function in a new greenlet named 'signal:SIGUSR2#n' on each delivery", async () => {
    const ran = new Waiter<Greenlet<unknown>>('signal handler ran');
    const handler = signalHandler('SIGUSR2', () => {
      ran.switch(getcurrent());
    });
    try {
      process.kill(process.pid, 'SIGUSR2');
      const g = await ran.get({ timeout: 5000 });
      expect(g.name).toMatch(/^signal:SIGUSR2#\d+$/);
      expect(g.name).not.toBe('main');
      const again = new Waiter<Greenlet<unknown>>('signal handler ran again');
      const second = signalHandler('SIGUSR2', () => {
        again.switch(getcurrent());
      });
      try {
        process.kill(process.pid, 'SIGUSR2');
        const g2 = await again.get({ timeout: 5000 });
        expect(g2).not.toBe(g);
      } finally {
        second.cancel();
      }
    } finally {
      handler.cancel();
    }
    await idle();
  });

  it("an error thrown by the function is reported with the handler greenlet's name", async () => {
    const reported = new Waiter<{ error: unknown; context: string }>('error reported');
    configure({ onError: (error, context) => reported.switch({ error, context }) });
    const handler = signalHandler('SIGUSR2', () => {
      throw new Error('handler failed');
    });
    try {
      process.kill(process.pid, 'SIGUSR2');
      const { error, context } = await reported.get({ timeout: 5000 });
      expect((error as Error).message).toBe('handler failed');
      expect(context).toMatch(/signal:SIGUSR2#\d+/);
    } finally {
      handler.cancel();
      configure({ onError: undefined });
    }
  });

  it('cancel() stops it: a later signal no longer runs the function', async () => {
    let runs = 0;
    const handler = signalHandler('SIGUSR2', () => {
      runs++;
    });
    handler.cancel();
    handler.cancel();
    const node = nodeSawSignal();
    try {
      process.kill(process.pid, 'SIGUSR2');
      await node.seen;
      await idle();
      expect(runs).toBe(0);
    } finally {
      node.remove();
    }
  });
});

describeEachChildHub('signalHandler (child process)', (hub) => {
  const scratch = scratchDir(`signal-${hub}`);
  afterAll(() => scratch.remove());

  it('does not keep the process alive', async () => {
    const result = await runScript(
      scratch.dir,
      'signal-alive.mjs',
      [
        `import { signalHandler } from ${JSON.stringify(CORE_URL)};`,
        "signalHandler('SIGUSR2', () => console.log('signal'));",
        "console.log('installed');",
        '',
      ].join('\n'),
      { env: { GREENHUB_HUB: hub }, timeoutMs: 10_000 },
    );
    expect(result.timedOut).toBe(false);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe('installed');
  });
});
