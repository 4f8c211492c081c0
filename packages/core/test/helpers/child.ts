/**
 * Run small ES-module scripts in a fresh Node process, against core's built
 * `dist` (what a user imports), and collect how they ended. Every child is
 * bounded in time: it is SIGKILLed after `timeoutMs` and reported as timed out.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, it } from 'vitest';
import { hubsUnderTest } from '../../src/testing/index.js';

/** Absolute `file:` URL of core's built ESM entry, for `import ... from` in child scripts. */
export const CORE_URL = pathToFileURL(fileURLToPath(new URL('../../dist/index.js', import.meta.url))).href;

/** How a child process ended. */
export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** A running child: read its stdout line by line while it runs. */
export interface RunningChild {
  process: ChildProcess;
  /** Resolves with the first stdout line (from the start) that contains `text`. */
  line(text: string): Promise<string>;
  /** Resolves when the child has exited (or was killed after the time limit). */
  exited: Promise<ChildResult>;
}

/** A temporary directory for scripts, removed by `remove()`. */
export function scratchDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), `greenhub-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Start `node file.mjs` with `source` written to `dir`. `env` entries set to
 * undefined are removed from the child's environment.
 */
export function startScript(
  dir: string,
  name: string,
  source: string,
  opts: { env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): RunningChild {
  const file = path.join(dir, name);
  writeFileSync(file, source);
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
  for (const [key, value] of Object.entries(opts.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  const child = spawn(process.execPath, [file], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const lineWaiters: { text: string; resolve: (line: string) => void }[] = [];
  const checkLines = (): void => {
    const lines = stdout.split('\n');
    for (const waiter of [...lineWaiters]) {
      const found = lines.find((l, i) => i < lines.length - 1 && l.includes(waiter.text));
      if (found !== undefined) {
        lineWaiters.splice(lineWaiters.indexOf(waiter), 1);
        waiter.resolve(found);
      }
    }
  };
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
    checkLines();
  });
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs ?? 10_000);
  const exited = new Promise<ChildResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      for (const waiter of lineWaiters.splice(0)) {
        waiter.resolve(`<child exited before printing "${waiter.text}"; stderr: ${stderr}>`);
      }
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
  return {
    process: child,
    exited,
    line: (text) =>
      new Promise<string>((resolve) => {
        lineWaiters.push({ text, resolve });
        checkLines();
        if (child.exitCode !== null || child.signalCode !== null) {
          resolve(`<child already exited; stderr: ${stderr}>`);
        }
      }),
  };
}

/** Run a script to its end. */
export function runScript(
  dir: string,
  name: string,
  source: string,
  opts: { env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<ChildResult> {
  return startScript(dir, name, source, opts).exited;
}

/** How many times `needle` occurs in `haystack`. */
export function occurrences(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

/**
 * Declare a suite of child-process tests once per hub, like `describeEachHub`;
 * the body gets the hub name to put in the child's `GREENHUB_HUB`.
 */
export function describeEachChildHub(title: string, body: (hub: string) => void): void {
  for (const hub of hubsUnderTest()) {
    if (hub.available) {
      describe(`${title} [${hub.name}]`, () => body(hub.name));
    } else {
      // Not the body: it would create scratch files that a skipped afterAll never removes.
      describe.skip(`${title} [${hub.name}] — skipped: ${hub.reason?.split('\n')[0]}`, () => {
        it('is skipped', () => {});
      });
    }
  }
}
