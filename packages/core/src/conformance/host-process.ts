import { describe, expect } from 'vitest';
import { describeResult, itInChild, moduleSpecifier, prelude, runScript } from './internal/child.js';
import type { Suite } from './internal/harness.js';
import { expectExitedByItself, KILL_AFTER_MS, run } from './keep-alive.js';

/**
 * The hub as a guest in a Node process (LIBEV.md's b, d and stress checks):
 * Worker threads, garbage collection, process.exit(), beforeExit, and child
 * processes that were running before the hub loaded.
 */
export function hostProcess(suite: Suite): void {
  const checks: Array<[string, (module: string) => Promise<void>]> = [
    [
      'hubs loaded only in Worker threads survive Workers being terminated at any moment',
      async (module) => {
        // The main thread never loads the hub: a native hub must not depend on it (LIBEV.md, pitfall 7).
        const result = await runScript(
          `const { Worker } = await import('node:worker_threads');
const say = (line) => process.stdout.write(line + '\\n');
const source = "Promise.all([import('node:worker_threads'), import(" + ${JSON.stringify(JSON.stringify(moduleSpecifier(module)))} + ")])" +
  ".then(([{ parentPort }, { createHub }]) => {" +
  " const hub = createHub(); const t = hub.timer(1, 1); let n = 0;" +
  " const l = hub.listen({ host: '127.0.0.1', port: 0 }); l.start(() => {}, () => {});" +
  " const u = hub.udp({ host: '127.0.0.1', port: 0 }); u.recvStart(() => {});" +
  " t.start(() => { if (++n === 3) parentPort.postMessage('ticked'); }); });";
for (let i = 0; i < 12; i++) {
  const worker = new Worker(source, { eval: true });
  worker.on('error', (err) => say('worker error ' + err.message));
  if (i % 3 === 0) await new Promise((resolve) => setTimeout(resolve, i));
  else if (i % 3 === 1) await new Promise((resolve) => worker.once('message', resolve));
  else await new Promise((resolve) => worker.once('online', resolve));
  await worker.terminate();
}
say('done');`,
          KILL_AFTER_MS,
        );
        expectExitedByItself(result);
        expect(result.stdout).toBe('done\n');
      },
    ],
    [
      'active watchers that nothing else references still call back after garbage collection',
      async (module) => {
        const result = await runScript(
          `${prelude(module)}
const net = await import('node:net');
const dgram = await import('node:dgram');
const hub = createHub();
const seen = new Set();
const ports = {};
let client;
let sender;
const keep = setTimeout(() => { say('missing: only ' + [...seen].join(',')); hub.close(); client?.destroy(); sender?.close(); }, 4000);
const mark = (what) => {
  seen.add(what);
  if (seen.size < 4) return;
  clearTimeout(keep);
  say([...seen].sort().join(','));
  hub.close();
  client.destroy();
  sender.close();
};
(() => {
  hub.timer(150).start(() => mark('timer'));
  const unreferenced = hub.timer(150);
  unreferenced.unref();
  unreferenced.start(() => mark('unreferenced timer'));
  const listener = hub.listen({ host: '127.0.0.1', port: 0 });
  listener.start((s) => s.readStart((chunk) => { if (chunk) mark('stream'); }), () => {});
  ports.tcp = listener.address.port;
  const udp = hub.udp({ host: '127.0.0.1', port: 0 });
  udp.recvStart(() => mark('udp'));
  ports.udp = udp.address.port;
})();
for (let i = 0; i < 6; i++) {
  globalThis.gc();
  await new Promise((resolve) => setImmediate(resolve));
}
client = net.connect(ports.tcp, '127.0.0.1', () => client.write('x'));
sender = dgram.createSocket('udp4');
sender.send('x', ports.udp, '127.0.0.1');
globalThis.gc();`,
          KILL_AFTER_MS,
          { nodeArgs: ['--expose-gc'] },
        );
        expectExitedByItself(result);
        expect(result.stdout).toBe('stream,timer,udp,unreferenced timer\n');
      },
    ],
    [
      'process.exit() called inside a hub callback exits at once with its code',
      async (module) => {
        const result = await run(
          module,
          `const hub = createHub();
const listener = hub.listen({ host: '127.0.0.1', port: 0 });
listener.start(() => {}, () => {});
hub.timer(10).start(() => { say('exiting'); process.exit(7); });`,
        );
        expect(result.timedOut, describeResult(result)).toBe(false);
        expect(result.code, describeResult(result)).toBe(7);
        expect(result.stdout).toBe('exiting\n');
      },
    ],
    [
      "a hub timer started from Node's beforeExit keeps the process alive and fires",
      async (module) => {
        const result = await run(
          module,
          `const hub = createHub();
process.once('beforeExit', () => {
  const timer = hub.timer(30);
  timer.start(() => { say('fired after beforeExit'); timer.close(); });
});`,
        );
        expectExitedByItself(result);
        expect(result.stdout).toBe('fired after beforeExit\n');
      },
    ],
    [
      'a child process started before the hub loaded still reports its exit',
      async (module) => {
        // A hub that takes over SIGCHLD when it loads would swallow this exit (LIBEV.md, pitfall 3).
        const result = await runScript(
          `const { spawn } = await import('node:child_process');
const say = (line) => process.stdout.write(line + '\\n');
const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 300)'], { stdio: 'ignore' });
const { createHub } = await import(${JSON.stringify(moduleSpecifier(module))});
const hub = createHub();
const repeating = hub.timer(20, 20);
repeating.start(() => {});
const missed = hub.timer(3000);
missed.start(() => { say('no exit event'); hub.close(); });
child.on('exit', (code) => { say('exit event ' + code); hub.close(); });`,
          KILL_AFTER_MS,
        );
        expectExitedByItself(result);
        expect(result.stdout).toBe('exit event 0\n');
      },
    ],
  ];

  describe('the hub inside a Node process (child processes)', () => {
    for (const [title, check] of checks) itInChild(suite.module, title, check, KILL_AFTER_MS * 2 + 2000);
  });
}
