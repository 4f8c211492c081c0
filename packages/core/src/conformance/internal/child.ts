import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { it } from 'vitest';
import { Inbox } from './wait.js';

/** How a child process ended. */
export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** From spawn to exit, in ms (includes Node's start-up). */
  elapsedMs: number;
  /** True when the suite had to kill it after `timeoutMs`. */
  timedOut: boolean;
}

/** The `import()` specifier for the hub module, as seen from a child started in this process's working directory. */
export function moduleSpecifier(module: string): string {
  if (isAbsolute(module)) return pathToFileURL(module).href;
  if (module.startsWith('./') || module.startsWith('../')) return pathToFileURL(resolve(module)).href;
  return module;
}

/**
 * Source that loads the hub module and defines `say(line)` (a line on stdout)
 * for a child script; the script's own code follows it.
 */
export function prelude(module: string): string {
  return [
    `const { createHub } = await import(${JSON.stringify(moduleSpecifier(module))});`,
    `const say = (line) => process.stdout.write(String(line) + '\\n');`,
    '',
  ].join('\n');
}

/** How to start a child Node process. */
export interface NodeOptions {
  /** Lower the child's file-descriptor limit (`ulimit -n`). */
  fdLimit?: number;
  /** Extra flags for Node, such as `--expose-gc`. */
  nodeArgs?: string[];
}

function node(source: string, opts: NodeOptions = {}): ChildProcess {
  const args = [...(opts.nodeArgs ?? []), '--input-type=module', '-e', source];
  const options: SpawnOptions = {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  };
  if (opts.fdLimit === undefined) return spawn(process.execPath, args, options);
  // The shell lowers the limit for itself, then becomes Node.
  return spawn(
    '/bin/sh',
    ['-c', `ulimit -n ${opts.fdLimit} && exec "$0" "$@"`, process.execPath, ...args],
    options,
  );
}

/**
 * Run an ES module `source` in a fresh Node process and wait for it to exit by
 * itself; kill it with SIGKILL after `timeoutMs` (reported as `timedOut`).
 */
export function runScript(source: string, timeoutMs: number, opts: NodeOptions = {}): Promise<ChildResult> {
  const started = performance.now();
  const child = node(source, opts);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
  });
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  return new Promise<ChildResult>((resolvePromise, reject) => {
    let timedOut = false;
    const killer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(killer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(killer);
      resolvePromise({ code, signal, stdout, stderr, elapsedMs: performance.now() - started, timedOut });
    });
  });
}

/** Describe a child's ending for an assertion message. */
export function describeResult(result: ChildResult): string {
  return [
    `exit code ${result.code}, signal ${result.signal}, after ${Math.round(result.elapsedMs)} ms${result.timedOut ? ' (killed: did not exit by itself)' : ''}`,
    `stdout: ${JSON.stringify(result.stdout)}`,
    `stderr: ${JSON.stringify(result.stderr.slice(0, 2000))}`,
  ].join('\n');
}

/** A long-running Node process whose stdout lines arrive in `lines`; `stop()` kills it and waits for it. */
export interface PeerProcess {
  child: ChildProcess;
  lines: Inbox<string>;
  /** What it printed on stderr so far. */
  stderr(): string;
  stop(): Promise<void>;
}

export function startPeer(source: string, opts: NodeOptions = {}): PeerProcess {
  const child = node(source, opts);
  const lines = new Inbox<string>();
  let buffered = '';
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    buffered += text;
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      lines.push(buffered.slice(0, newline));
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf('\n');
    }
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  child.on('error', () => undefined);
  const exited = new Promise<void>((resolvePromise) => child.once('close', () => resolvePromise()));
  return {
    child,
    lines,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * Declare a check that needs the hub module in a child process; without
 * `module` it is listed as skipped, saying how to enable it.
 */
export function itInChild(
  module: string | undefined,
  title: string,
  check: (module: string) => Promise<void>,
  timeoutMs: number,
): void {
  if (module === undefined) it.skip(`${title} (pass { module } to run process-exit checks)`, () => undefined);
  else it(title, () => check(module), timeoutMs);
}
