import net from 'node:net';
import { describe, expect } from 'vitest';
import { itInChild, prelude, startPeer } from './internal/child.js';
import type { HubTest, Suite } from './internal/harness.js';
import { useHub } from './internal/harness.js';

/**
 * The hub's timer period during these checks, and the bound each must meet.
 * A hub that blocks in its own poll without the fds Node opened since libuv's
 * last poll (LIBEV.md, pitfall 1) stalls them until its next wake-up: ~1000 ms.
 */
const HUB_PERIOD_MS = 1000;
const BOUND_MS = 300;

/**
 * The hub runs in a child process that does nothing else, so no unrelated
 * wake-up (a test runner's own timers and messages) can hide a stall; the
 * peer is this process. The child's check calls `done(ms)`.
 */
function hubProcess(module: string, check: string): string {
  return `${prelude(module)}
const net = await import('node:net');
const { spawn } = await import('node:child_process');
const hub = createHub();
hub.timer(${HUB_PERIOD_MS}, ${HUB_PERIOD_MS}).start(() => {});
const listener = hub.listen({ host: '127.0.0.1', port: 0 });
listener.start((stream) => stream.close(), () => {});
const done = (ms) => { say(JSON.stringify({ ms })); process.exit(0); };
const fail = (err) => { say(JSON.stringify({ error: String(err) })); process.exit(1); };
${check}`;
}

/** Run `check` in a hub process and return the ms it measured. */
async function measure(
  module: string,
  check: string,
  peer?: (child: ReturnType<typeof startPeer>) => Promise<void>,
): Promise<number> {
  const child = startPeer(hubProcess(module, check));
  try {
    if (peer) await peer(child);
    const line = await child.lines.next(`the hub process to report (stderr: ${child.stderr()})`, 5000);
    const result = JSON.parse(line) as { ms?: number; error?: string };
    if (result.error !== undefined) throw new Error(`the hub process failed: ${result.error}`);
    return result.ms ?? Number.NaN;
  } finally {
    await child.stop();
  }
}

/** An echo server in this process, for the hub process to connect to; closed after the test. */
async function echoServer(t: HubTest): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.pipe(socket);
  });
  t.defer(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

const echoFrom = (port: number) =>
  `const start = performance.now();
  const socket = net.connect(${port}, '127.0.0.1', () => socket.write('x'));
  socket.on('data', () => done(performance.now() - start));
  socket.on('error', fail);`;

function expectPrompt(elapsed: number, what: string): void {
  expect(
    elapsed,
    `${what} took ${elapsed.toFixed(1)} ms with the hub's ${HUB_PERIOD_MS} ms timer active: Node's new fd waited for the hub's wake-up`,
  ).toBeLessThan(BOUND_MS);
}

/**
 * LIBEV.md's out-of-process checks (b11–b15): fds that Node opens while the
 * hub is active and waiting are served at once, with the peer in another process.
 */
export function otherProcess(suite: Suite): void {
  describe('Node I/O with a peer in another process, while the hub waits (child processes)', () => {
    const t = useHub(suite);

    itInChild(
      suite.module,
      'net.connect() started inside setTimeout completes promptly',
      async (module) => {
        const port = await echoServer(t());
        expectPrompt(
          await measure(module, `setTimeout(() => { ${echoFrom(port)} }, 50);`),
          'a connect + echo from setTimeout',
        );
      },
      15_000,
    );

    itInChild(
      suite.module,
      'net.connect() started inside setImmediate completes promptly',
      async (module) => {
        const port = await echoServer(t());
        expectPrompt(
          await measure(module, `setTimeout(() => setImmediate(() => { ${echoFrom(port)} }), 50);`),
          'a connect + echo from setImmediate',
        );
      },
      15_000,
    );

    itInChild(
      suite.module,
      'net.connect() started inside a hub timer callback completes promptly',
      async (module) => {
        const port = await echoServer(t());
        expectPrompt(
          await measure(module, `const once = hub.timer(50); once.start(() => { ${echoFrom(port)} });`),
          'a connect + echo from a hub timer',
        );
      },
      15_000,
    );

    itInChild(
      suite.module,
      'a socket accepted by node:net is served promptly',
      async (module) => {
        const sockets: net.Socket[] = [];
        t().defer(() => {
          for (const s of sockets) s.destroy();
        });
        const elapsed = await measure(
          module,
          `const server = net.createServer((socket) => {
  const start = performance.now();
  socket.once('data', () => done(performance.now() - start));
  socket.on('error', fail);
  socket.write('ping');
});
server.listen(0, '127.0.0.1', () => say(server.address().port));`,
          async (child) => {
            const port = Number(await child.lines.next('the hub process to listen', 5000));
            const socket = net.connect(port, '127.0.0.1');
            sockets.push(socket);
            socket.on('error', () => undefined);
            socket.on('data', () => socket.write('pong'));
          },
        );
        expectPrompt(elapsed, 'an accepted socket');
      },
      15_000,
    );

    itInChild(
      suite.module,
      "a child process's stdout pipe opened inside setTimeout is read promptly",
      async (module) => {
        // The grandchild stays alive: its exit (SIGCHLD) would wake any hub and hide a stall.
        const elapsed = await measure(
          module,
          `setTimeout(() => {
  const start = performance.now();
  const child = spawn('/bin/sh', ['-c', 'echo ready; exec sleep 10'], { stdio: ['ignore', 'pipe', 'ignore'] });
  child.on('error', fail);
  child.stdout.once('data', () => { child.kill('SIGKILL'); done(performance.now() - start); });
}, 50);`,
        );
        expectPrompt(elapsed, "a child's stdout");
      },
      15_000,
    );
  });
}
