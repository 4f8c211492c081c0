import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built hub module, as child processes import it. */
export const hubModule = new URL('../../dist/index.js', import.meta.url).href;

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

/**
 * Run an ES module in a fresh Node process (with `createHub` and `say()`
 * defined first) and wait until it exits by itself, or kill it after `timeoutMs`.
 */
export function runChild(
  source: string,
  { timeoutMs = 10_000, nodeArgs = [] as string[], env = {} as Record<string, string> } = {},
): Promise<ChildResult> {
  const prelude = `const { createHub } = await import(${JSON.stringify(hubModule)});\nconst say = (l) => process.stdout.write(String(l) + '\\n');\n`;
  return runFile(['--input-type=module', ...nodeArgs, '-e', prelude + source], timeoutMs, env);
}

/** Run a fixture file from test/fixtures with HUB_MODULE set. */
export function runFixture(
  name: string,
  timeoutMs: number,
  env: Record<string, string> = {},
): Promise<ChildResult> {
  return runFile([fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))], timeoutMs, env);
}

function runFile(args: string[], timeoutMs: number, env: Record<string, string>): Promise<ChildResult> {
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    env: { ...process.env, NODE_OPTIONS: '', HUB_MODULE: hubModule, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
  child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  return new Promise((resolve, reject) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, elapsedMs: performance.now() - started });
    });
  });
}

/** A child's ending, for assertion messages. */
export function describeChild(r: ChildResult): string {
  return `exit ${r.code} signal ${r.signal} after ${Math.round(r.elapsedMs)} ms\nstdout: ${r.stdout}\nstderr: ${r.stderr.slice(0, 2000)}`;
}
