import { type ChildProcess, spawn as spawnChild } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as nodeNet from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hubsUnderTest, requiredHubs } from '@greenhub/core/testing';
import { buildSync } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const packageDir = join(here, '..');
const dir = join(packageDir, 'node_modules', '.cache', `cluster-${process.pid}`);

/** Node 22.12 / 23.1 gave `net` the `reusePort` that hub-pure passes on. */
function nodeHasReusePort(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major >= 23 || (major === 22 && minor >= 12);
}

/**
 * The program under test, run as the cluster primary: `serveOnAllCores` with
 * two workers, each an HttpServer on PORT (with `reusePort` unless REUSE=0)
 * answering its pid; `/slow` answers after 300 ms, `/crash` makes the worker
 * exit with code 7. Each worker prints `listening <pid>` once bound.
 */
const PROGRAM = `
import { HttpServer, Response, serveOnAllCores } from './net.js';

const port = Number(process.env.PORT);
await serveOnAllCores(async () => {
  const server = new HttpServer({ host: '127.0.0.1', port, reusePort: process.env.REUSE !== '0' }, async (req) => {
    const path = new URL(req.url).pathname;
    if (path === '/crash') setTimeout(() => process.exit(7), 10);
    if (path === '/slow') {
      console.log('slow ' + process.pid);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    return new Response(String(process.pid));
  });
  await server.start();
  console.log('listening ' + process.pid);
  await server.serveForever();
}, { workers: 2, stopTimeout: 5000 });
`;

interface Primary {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Wait (bounded) until stdout + stderr match `pattern` `count` times; the matches. */
  waitFor(pattern: RegExp, count: number, ms?: number): Promise<RegExpMatchArray[]>;
  exited(ms?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: ChildProcess[] = [];
const workerPids = new Set<number>();

function startPrimary(hub: string, port: number, env: Record<string, string> = {}): Primary {
  const child = spawnChild(process.execPath, [join(dir, 'program.js')], {
    env: { ...process.env, GREENHUB_HUB: hub, PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  let out = '';
  let err = '';
  const changed = new EventTarget();
  const notify = (): void => {
    changed.dispatchEvent(new Event('change'));
  };
  child.stdout?.setEncoding('utf8').on('data', (s: string) => {
    out += s;
    for (const m of s.matchAll(/listening (\d+)/g)) workerPids.add(Number(m[1]));
    notify();
  });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    err += s;
    notify();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
      notify();
    });
  });

  const until = <T>(check: () => T | undefined, ms: number, what: () => string): Promise<T> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(() => reject(new Error(`${what()} within ${ms} ms`))), ms);
      const test = (): void => {
        try {
          const value = check();
          if (value !== undefined) done(() => resolve(value));
        } catch (error) {
          done(() => reject(error));
        }
      };
      const done = (settle: () => void): void => {
        clearTimeout(timer);
        changed.removeEventListener('change', test);
        settle();
      };
      changed.addEventListener('change', test);
      test();
    });

  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitFor: (pattern, count, ms = 10_000) =>
      until(
        () => {
          const all = [...(out + err).matchAll(new RegExp(pattern, 'g'))];
          if (all.length >= count) return all;
          if (child.exitCode !== null || child.signalCode !== null) {
            throw new Error(`the primary exited before printing ${pattern} ${count}×:\n${out}\n${err}`);
          }
          return undefined;
        },
        ms,
        () => `no ${count}× ${pattern}:\n${out}\n${err}`,
      ),
    exited: (ms = 10_000) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the primary did not exit within ${ms} ms:\n${out}\n${err}`)),
          ms,
        );
      });
      return Promise.race([exit, late]).finally(() => clearTimeout(timer));
    },
  };
}

/** A port free right now (the primary binds it a moment later). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = nodeNet.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as nodeNet.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** GET `path` over a fresh connection (no agent, so no keep-alive reuse); the body. */
function get(port: number, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => {
        body += s;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer in 5 s`)));
    req.on('error', reject);
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(() => {
  mkdirSync(dir, { recursive: true });
  buildSync({
    entryPoints: [join(packageDir, 'src', 'index.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['@greenhub/*'],
    outfile: join(dir, 'net.js'),
    logLevel: 'silent',
  });
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  writeFileSync(join(dir, 'program.js'), PROGRAM);
});

afterAll(() => {
  for (const child of started)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const pid of workerPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('serveOnAllCores: worker processes sharing one port', () => {
  for (const hub of hubsUnderTest()) {
    const skip = !hub.available && !requiredHubs().includes(hub.name);
    const reusePort = hub.name !== 'pure' || nodeHasReusePort();
    describe.skipIf(skip)(`on hub ${hub.name}`, { timeout: 30_000 }, () => {
      it.skipIf(!reusePort)(
        'two workers bind the port with reusePort and both serve; SIGTERM to the primary stops them gracefully',
        async () => {
          const port = await freePort();
          const primary = startPrimary(hub.name, port);
          try {
            const pids = (await primary.waitFor(/listening (\d+)/, 2)).map((m) => Number(m[1]));
            expect(new Set(pids).size).toBe(2);

            const seen = new Map<number, number>();
            for (let i = 0; i < 200; i++) {
              const res = await get(port);
              expect(res.status).toBe(200);
              const pid = Number(res.body);
              seen.set(pid, (seen.get(pid) ?? 0) + 1);
            }
            expect([...seen.keys()].sort()).toEqual([...pids].sort());

            // A request in flight when the primary is told to stop still gets its answer.
            const slow = get(port, '/slow');
            await primary.waitFor(/slow \d+/, 1);
            primary.child.kill('SIGTERM');
            expect(await slow).toMatchObject({ status: 200 });
            expect(await primary.exited()).toEqual({ code: 143, signal: null });
            for (const pid of pids) expect(alive(pid)).toBe(false);
            await expect(get(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
          } finally {
            primary.child.kill('SIGKILL');
          }
        },
      );

      it.skipIf(!reusePort)('a worker that crashes after its startup is reported and replaced', async () => {
        const port = await freePort();
        const primary = startPrimary(hub.name, port);
        try {
          await primary.waitFor(/listening (\d+)/, 2);
          // Crashes within the first second count as startup failures and are not replaced.
          await new Promise((resolve) => setTimeout(resolve, 1100));
          const crashed = Number((await get(port, '/crash')).body);
          await primary.waitFor(new RegExp(`worker ${crashed} exited with code 7; starting another`), 1);
          const pids = (await primary.waitFor(/listening (\d+)/, 3)).map((m) => Number(m[1]));
          const replacement = pids[2]!;
          expect(pids.slice(0, 2)).not.toContain(replacement);
          const seen = new Set<number>();
          for (let i = 0; i < 100 && seen.size < 2; i++) seen.add(Number((await get(port)).body));
          expect(seen.has(replacement)).toBe(true);
          expect(seen.has(crashed)).toBe(false);
          primary.child.kill('SIGTERM');
          expect(await primary.exited()).toEqual({ code: 143, signal: null });
        } finally {
          primary.child.kill('SIGKILL');
        }
      });

      it.skipIf(reusePort)(
        'fails clearly where reusePort is unsupported: every worker reports ERR_NOT_SUPPORTED, none is restarted, the primary exits 1',
        async () => {
          const primary = startPrimary(hub.name, await freePort());
          try {
            expect(await primary.exited()).toEqual({ code: 1, signal: null });
            expect(primary.stderr()).toMatch(/during startup; not restarted/);
            expect(primary.stderr()).toMatch(/ERR_NOT_SUPPORTED.*reusePort is not supported on Node\.js/);
            expect(primary.stdout()).not.toMatch(/listening/);
          } finally {
            primary.child.kill('SIGKILL');
          }
        },
      );

      it('without reusePort the port is not shared: hubs bind outside node:cluster, so the second worker gets EADDRINUSE', async () => {
        const port = await freePort();
        const primary = startPrimary(hub.name, port, { REUSE: '0' });
        try {
          await primary.waitFor(/EADDRINUSE[^\n]*during startup; not restarted/, 1);
          const [[, pid]] = (await primary.waitFor(/listening (\d+)/, 1)) as [RegExpMatchArray];
          expect((await get(port)).body).toBe(pid);
          primary.child.kill('SIGTERM');
          expect(await primary.exited()).toEqual({ code: 143, signal: null });
        } finally {
          primary.child.kill('SIGKILL');
        }
      });
    });
  }
});
