// The C load client (bench/lib/client.c) and the two measurements made with
// it against a server process: echo round trips per second, and RSS per idle
// connection. The server is any process that prints {"port":..} once
// listening and, when asked to hold N connections, "held" once it has them
// (after a gc()). The client runs on core 1, the server should be on core 0.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuMs, quick, rssKb, start, stop, waitLine } from './harness.mjs';

/** The echo workload every network bench runs: connection counts, warm-up and measured window. */
export const ECHO = { conns: [1, 50, 200], warmupMs: quick ? 200 : 500, runMs: quick ? 500 : 2000 };
/** How many idle connections an RSS-per-connection run holds. */
export const IDLE_CONNS = quick ? 2000 : 10_000;

const here = path.dirname(fileURLToPath(import.meta.url));

/** Compile client.c into a temporary directory (removed on exit) and return the binary's path. */
export function buildClient() {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'greenhub-bench-'));
  process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
  const client = path.join(tmp, 'client');
  execFileSync('cc', ['-O2', '-Wall', '-o', client, path.join(here, 'client.c')], { stdio: 'inherit' });
  return client;
}

/**
 * Start a server process with {@link start} and wait for its {"port":..} line.
 *
 * @returns what `start` returned, plus `port` and `info` (that line, parsed).
 */
export async function startServer(argv, opts, what) {
  const server = start(argv, opts);
  const info = JSON.parse(await waitLine(server, (l) => l.startsWith('{'), what));
  return { ...server, port: info.port, info };
}

/**
 * startServer(), then check the server's {"hub":..} line names `hub`: a contender that quietly
 * ran on another hub (a fallback) would make its figures lie. One that does is stopped.
 *
 * @param label the contender, as the tables name it
 */
export async function startContender(argv, opts, label, hub) {
  const server = await startServer(argv, opts, `${label} server`);
  if (server.info.hub !== hub) {
    await stop(server.child);
    throw new Error(`${label}: the server runs on ${server.info.hub}, not ${hub}`);
  }
  return server;
}

/**
 * One echo run: `conns` connections of 64-byte ping-pong against a fresh server.
 *
 * @param startOne async () => a started server (see {@link startServer}); stopped afterwards
 * @param opts.mode the client's mode: `echo` (raw TCP, default) or `ws` (WebSocket frames)
 * @returns `{ value: round trips/s, clientCpu, serverUsPerRt }`
 */
export async function echoRun(client, startOne, conns, { warmupMs, runMs, mode = 'echo' }) {
  const server = await startOne();
  try {
    const argv = [client, mode, String(server.port), String(conns), String(warmupMs), String(runMs)];
    const load = start(argv, { cpu: 1 });
    // The server's CPU time over the client's measuring window: a steadier figure than round trips/s
    // on a shared 2-core VM, where wake-up latency between cores dominates at low concurrency.
    let cpuFrom = 0;
    const mark = setTimeout(() => {
      cpuFrom = cpuMs(server.child.pid);
    }, warmupMs);
    const line = await waitLine(load, (l) => l.startsWith('{'), 'load client');
    const serverCpu = cpuMs(server.child.pid) - cpuFrom;
    clearTimeout(mark);
    await load.child.done;
    const { rps, cpu } = JSON.parse(line);
    // A server that echoes nothing would otherwise pass as a slow one.
    if (!(rps > 0))
      throw new Error(`${server.info.hub ?? 'the server'}: nothing came back in the ${mode} run`);
    return { value: rps, clientCpu: cpu, serverUsPerRt: (serverCpu * 1000) / (rps * (runMs / 1000)) };
  } finally {
    await stop(server.child);
  }
}

/**
 * A process's RSS once it stops moving: V8 gives pages back on a background thread, so a drop can
 * lag the gc() that caused it by a few hundred ms. Read every 250 ms until four readings in a row
 * (1 s) agree within 1%, for at most 5 s; the last reading.
 */
async function steadyRssKb(pid) {
  let last = rssKb(pid);
  let same = 0;
  for (let i = 0; i < 20 && same < 4; i++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = rssKb(pid);
    same = Math.abs(now - last) <= last / 100 ? same + 1 : 0;
    last = now;
  }
  return last;
}

/**
 * One idle run: the server's RSS growth per connection once the client holds `conns` idle connections.
 *
 * @param startOne async () => a started server told to hold `conns` connections; stopped afterwards
 * @param opts.settled also read it at the server's "settled" (after some seconds idle and a GC:
 *   without the young generation that V8 grew while the connections were accepted)
 * @returns `{ value: bytes per connection at "held", settled: the same at "settled" (with opts.settled) }`
 */
export async function idleRun(client, startOne, conns, opts = {}) {
  const server = await startOne();
  let holder;
  try {
    const before = rssKb(server.child.pid);
    holder = start([client, 'hold', String(server.port), String(conns)], { cpu: 1 });
    await waitLine(holder, (l) => l === 'held', 'client holding connections');
    await waitLine(server, (l) => l === 'held', 'server accepting');
    const after = rssKb(server.child.pid);
    const value = ((after - before) * 1024) / conns;
    if (!opts.settled) return { value };
    await waitLine(server, (l) => l === 'settled', 'server settling');
    const settled = await steadyRssKb(server.child.pid);
    return { value, settled: ((settled - before) * 1024) / conns };
  } finally {
    // The server closes first, so TIME_WAIT lands on its side and the client's ports are reusable.
    await stop(server.child);
    if (holder) {
      holder.child.stdin.end();
      await stop(holder.child);
    }
  }
}
