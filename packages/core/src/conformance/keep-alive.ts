import { describe, expect } from 'vitest';
import { type ChildResult, describeResult, itInChild, prelude, runScript } from './internal/child.js';
import type { Suite } from './internal/harness.js';

/** A child that has not exited this long after its last event is taken as kept alive. */
export const KILL_AFTER_MS = 8000;
/**
 * A Node timer the child arms *unreferenced*: it can only print if something
 * else keeps the process alive that long. It turns "the process stayed alive"
 * into an event, with no sleeping in the test.
 */
const PROBE_MS = 400;

type ChildCheck = (module: string) => Promise<void>;

export async function run(module: string, body: string): Promise<ChildResult> {
  return runScript(prelude(module) + body, KILL_AFTER_MS);
}

export function expectExitedByItself(result: ChildResult): void {
  expect(result.timedOut, describeResult(result)).toBe(false);
  expect(result.code, describeResult(result)).toBe(0);
}

const probe = (what: string) => `setTimeout(() => { say('still alive'); ${what} }, ${PROBE_MS}).unref();\n`;

/**
 * Checks that need a fresh process: what keeps Node alive, and that it exits
 * by itself. Each runs a small ES module that imports the hub module and calls
 * `createHub()`, and is killed if it outlives {@link KILL_AFTER_MS}.
 */
export function keepAlive(suite: Suite): void {
  const checks: Array<[string, ChildCheck]> = [
    [
      'a referenced timer keeps the process alive until it fires',
      async (module) => {
        const result = await run(
          module,
          `const hub = createHub();
const timer = hub.timer(${PROBE_MS});
timer.start(() => { say('fired'); timer.close(); });`,
        );
        expectExitedByItself(result);
        expect(result.stdout).toBe('fired\n');
      },
    ],
    [
      'an unreferenced timer does not keep the process alive, and its callback never runs',
      async (module) => {
        const result = await run(
          module,
          `const hub = createHub();
const timer = hub.timer(5000);
timer.unref();
timer.start(() => say('fired'));
say('started');`,
        );
        expectExitedByItself(result);
        expect(result.stdout).toBe('started\n');
        expect(result.elapsedMs, 'the process waited for an unreferenced timer').toBeLessThan(4000);
      },
    ],
    [
      'a pending callback keeps the process alive until it runs',
      async (module) => {
        const result = await run(module, `const hub = createHub();\nhub.callback(() => say('ran'));`);
        expectExitedByItself(result);
        expect(result.stdout).toBe('ran\n');
      },
    ],
    [
      'a started listener keeps the process alive, and the process exits once it is closed',
      async (module) => {
        const result = await run(
          module,
          `const hub = createHub();
const listener = hub.listen({ host: '127.0.0.1', port: 0 });
listener.start(() => {}, () => {});
${probe('listener.close();')}`,
        );
        expectExitedByItself(result);
        expect(result.stdout).toBe('still alive\n');
      },
    ],
    [
      'an unreferenced listener does not keep the process alive',
      async (module) => {
        const result = await run(
          module,
          `const hub = createHub();
const listener = hub.listen({ host: '127.0.0.1', port: 0 });
listener.start(() => {}, () => {});
listener.unref();
${probe('')}say('started');`,
        );
        expectExitedByItself(result);
        expect(result.stdout).toBe('started\n');
      },
    ],
    [
      'a reading stream keeps the process alive, and the process exits once it is closed',
      async (module) => {
        const result = await run(
          module,
          `const hub = createHub();
const listener = hub.listen({ host: '127.0.0.1', port: 0 });
const accepted = [];
listener.start((s) => accepted.push(s), () => {});
listener.unref();
hub.connect({ host: '127.0.0.1', port: listener.address.port }, (err, stream) => {
  if (err) throw err;
  stream.readStart(() => {});
  ${probe('stream.close(); for (const s of accepted) s.close(); listener.close();')}
});`,
        );
        expectExitedByItself(result);
        expect(result.stdout).toBe('still alive\n');
      },
    ],
    [
      'an unreferenced reading stream does not keep the process alive',
      async (module) => {
        const result = await run(
          module,
          `const hub = createHub();
const listener = hub.listen({ host: '127.0.0.1', port: 0 });
listener.start((s) => s.unref(), () => {});
listener.unref();
hub.connect({ host: '127.0.0.1', port: listener.address.port }, (err, stream) => {
  if (err) throw err;
  stream.readStart(() => {});
  stream.unref();
  ${probe('')}say('connected');
});`,
        );
        expectExitedByItself(result);
        expect(result.stdout).toBe('connected\n');
      },
    ],
    [
      'a stream with a write pending keeps the process alive until the write completes',
      async (module) => {
        // Only the client's pending write is referenced work: the listener is unreferenced and the
        // accepted stream does not read until an unreferenced Node timer says so.
        const result = await run(
          module,
          `const hub = createHub();
const listener = hub.listen({ host: '127.0.0.1', port: 0 });
let server;
listener.start((s) => { server = s; }, () => {});
listener.unref();
hub.connect({ host: '127.0.0.1', port: listener.address.port }, (err, client) => {
  if (err) throw err;
  client.write(new Uint8Array(32 * 1024 * 1024), (werr) => {
    say('written ' + werr);
    client.close(); server.close(); listener.close();
  });
  setTimeout(() => { say('still alive'); server.readStart(() => {}); }, ${PROBE_MS}).unref();
});`,
        );
        expectExitedByItself(result);
        expect(result.stdout).toBe('still alive\nwritten null\n');
      },
    ],
    [
      'a receiving datagram socket keeps the process alive; unreferenced it does not',
      async (module) => {
        const kept = await run(
          module,
          `const hub = createHub();
const udp = hub.udp({ host: '127.0.0.1', port: 0 });
udp.recvStart(() => {});
${probe('udp.close();')}`,
        );
        expectExitedByItself(kept);
        expect(kept.stdout).toBe('still alive\n');
        const unref = await run(
          module,
          `const hub = createHub();
const udp = hub.udp({ host: '127.0.0.1', port: 0 });
udp.recvStart(() => {});
udp.unref();
${probe('')}say('started');`,
        );
        expectExitedByItself(unref);
        expect(unref.stdout).toBe('started\n');
      },
    ],
    [
      'a signal watcher alone does not keep the process alive (unreferenced by default)',
      async (module) => {
        const result = await run(
          module,
          `const hub = createHub();
const watcher = hub.signal('SIGWINCH');
watcher.start(() => say('signal'));
${probe('')}say('started');`,
        );
        expectExitedByItself(result);
        expect(result.stdout).toBe('started\n');
      },
    ],
    [
      'a signal watcher made referenced with ref() keeps the process alive',
      async (module) => {
        const result = await run(
          module,
          `const hub = createHub();
const watcher = hub.signal('SIGWINCH');
watcher.start(() => {});
watcher.ref();
${probe('watcher.close();')}`,
        );
        expectExitedByItself(result);
        expect(result.stdout).toBe('still alive\n');
      },
    ],
    [
      'the process exits by itself once every hub object is closed',
      async (module) => {
        const result = await run(
          module,
          `const hub = createHub();
const repeating = hub.timer(5, 5);
repeating.start(() => {});
const listener = hub.listen({ host: '127.0.0.1', port: 0 });
const accepted = [];
listener.start((s) => { accepted.push(s); s.readStart(() => {}); }, () => {});
const udp = hub.udp({ host: '127.0.0.1', port: 0 });
udp.recvStart(() => {});
const watcher = hub.signal('SIGWINCH');
watcher.start(() => {});
watcher.ref();
hub.connect({ host: '127.0.0.1', port: listener.address.port }, (err, stream) => {
  if (err) throw err;
  stream.readStart(() => {});
  stream.write(new Uint8Array([1, 2, 3]));
  const end = hub.timer(50);
  end.start(() => {
    for (const o of [repeating, listener, udp, watcher, stream, end, ...accepted]) o.close();
    say('closed');
  });
});`,
        );
        expectExitedByItself(result);
        expect(result.stdout).toBe('closed\n');
      },
    ],
    [
      'hub.close() lets the process exit even while its objects were active',
      async (module) => {
        const result = await run(
          module,
          `const hub = createHub();
hub.timer(5, 5).start(() => {});
const listener = hub.listen({ host: '127.0.0.1', port: 0 });
listener.start(() => {}, () => {});
hub.udp({ host: '127.0.0.1', port: 0 }).recvStart(() => {});
hub.connect({ host: '127.0.0.1', port: listener.address.port }, () => {});
const end = hub.timer(30);
end.start(() => { hub.close(); say('closed'); });`,
        );
        expectExitedByItself(result);
        expect(result.stdout).toBe('closed\n');
      },
    ],
    [
      'an exception thrown in a callback does not exit the process; by default it is printed on stderr',
      async (module) => {
        const result = await run(
          module,
          `const hub = createHub();
hub.callback(() => { throw new Error('boom-7c1f'); });
const timer = hub.timer(20);
timer.start(() => { say('survived'); timer.close(); });`,
        );
        expectExitedByItself(result);
        expect(result.stdout).toBe('survived\n');
        expect(result.stderr).toContain('boom-7c1f');
      },
    ],
    [
      'an exception thrown in a timer callback goes to onError and does not exit the process',
      async (module) => {
        const result = await run(
          module,
          `const hub = createHub({ onError: (err, context) => say('onError ' + err.message + ' ' + (typeof context)) });
const failing = hub.timer(1);
failing.start(() => { throw new Error('boom-51d2'); });
const timer = hub.timer(30);
timer.start(() => { say('survived'); timer.close(); failing.close(); });`,
        );
        expectExitedByItself(result);
        expect(result.stdout).toBe('onError boom-51d2 string\nsurvived\n');
      },
    ],
  ];

  describe('keep-alive and exit (child processes)', () => {
    for (const [title, check] of checks) itInChild(suite.module, title, check, KILL_AFTER_MS * 2 + 2000);
  });
}
