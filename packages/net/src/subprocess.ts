import { type ChildProcess, spawn as nodeSpawn } from 'node:child_process';
import { Waiter, type WaitOptions } from '@greenhub/core';
import { ProcessReader, ProcessWriter } from './internal/process-pipe.js';

export { ProcessReader, ProcessWriter } from './internal/process-pipe.js';

/** Options of {@link spawnProcess}. */
export interface SpawnProcessOptions {
  /** Working directory of the child (default: this process's). */
  cwd?: string;
  /** Environment of the child (default: `process.env`). */
  env?: NodeJS.ProcessEnv;
}

/** Options of {@link runProcess}. */
export interface RunProcessOptions extends SpawnProcessOptions, WaitOptions {
  /** Bytes (or UTF-8 text) written to the child's stdin, which is then closed. Default: stdin is closed at once. */
  input?: Uint8Array | string;
}

/** What {@link runProcess} returns. */
export interface ProcessResult {
  /** The exit code, or `null` when the child was ended by a signal. */
  exitCode: number | null;
  /** The signal that ended the child (`'SIGKILL'`...), or `null` when it exited. */
  signal: NodeJS.Signals | null;
  /** Everything the child wrote to stdout. */
  stdout: Uint8Array;
  /** Everything the child wrote to stderr. */
  stderr: Uint8Array;
}

/**
 * A running child process (see {@link spawnProcess}), with its pipes as
 * cooperative streams and a cooperative {@link Process.wait}. Signals and
 * reaping stay Node's (`node:child_process`): an exited child is reaped by
 * Node, so it never lingers as a zombie once `wait()` returned.
 *
 * @example
 * await using proc = spawnProcess(process.execPath, ['-e', 'process.stdin.pipe(process.stdout)']);
 * await proc.stdin.write('hi\n');
 * console.log(await proc.stdout.readLine()); // 'hi'
 * await proc.stdin.end();
 * console.log(await proc.wait()); // 0
 */
export class Process implements AsyncDisposable {
  /** The child's stdin. */
  readonly stdin: ProcessWriter;
  /** The child's stdout. */
  readonly stdout: ProcessReader;
  /** The child's stderr. */
  readonly stderr: ProcessReader;
  /** The OS process id; `undefined` if the child could not be spawned. */
  readonly pid: number | undefined;

  readonly #child: ChildProcess;
  #exited = false;
  #exitCode: number | null = null;
  #signalCode: NodeJS.Signals | null = null;
  #spawnError: Error | undefined;
  readonly #waiters = new Set<Waiter<void>>();

  /** @internal Use {@link spawnProcess}. */
  constructor(child: ChildProcess) {
    this.#child = child;
    this.pid = child.pid;
    this.stdin = new ProcessWriter(child.stdin);
    this.stdout = new ProcessReader(child.stdout);
    this.stderr = new ProcessReader(child.stderr);
    child.on('exit', (code, signal) => {
      this.#exitCode = code;
      this.#signalCode = signal;
      this.#settle();
    });
    child.on('error', (err: Error) => {
      // Spawn failures (ENOENT, EACCES) come here; a failed kill() is reported by kill() itself.
      if (child.pid === undefined) {
        this.#spawnError ??= err;
        this.#settle();
      }
    });
  }

  #settle(): void {
    if (this.#exited) return;
    this.#exited = true;
    for (const w of this.#waiters) w.switch();
    this.#waiters.clear();
  }

  /** The exit code once the child exited normally, else `null`. */
  get exitCode(): number | null {
    return this.#exitCode;
  }

  /** The signal that ended the child (`'SIGTERM'`...), or `null`. */
  get signalCode(): NodeJS.Signals | null {
    return this.#signalCode;
  }

  /** True once the child exited (or could not be spawned). */
  get exited(): boolean {
    return this.#exited;
  }

  /**
   * Wait cooperatively (kind `'process wait'`) for the child to exit. Several
   * greenlets may wait at once.
   *
   * @param timeout give up after this many ms; the child keeps running.
   * @param opts.signal abort the wait (rejects with `signal.reason`).
   * @returns the exit code, or `null` when the child was ended by a signal
   *   (then {@link Process.signalCode} tells which).
   * @throws `Timeout` (code `ETIMEDOUT`) when `timeout` runs out, like
   *   gevent's `Popen.wait(timeout)` raising `TimeoutExpired`; the spawn error
   *   (`ENOENT`, `EACCES`, with Node's `code`, `path`, `spawnargs`) if the
   *   child could not be started; the error of a `kill()`.
   * @example
   * const code = await proc.wait(5000);
   */
  async wait(timeout?: number, opts?: { signal?: AbortSignal }): Promise<number | null> {
    if (!this.#exited) {
      const waiter = new Waiter<void>('process wait');
      this.#waiters.add(waiter);
      try {
        await waiter.get({ timeout, signal: opts?.signal });
      } finally {
        this.#waiters.delete(waiter);
      }
    }
    if (this.#spawnError) throw this.#spawnError;
    return this.#exitCode;
  }

  /**
   * Send a signal to the child. Does nothing once it exited.
   *
   * @param signal the signal (default `'SIGTERM'`).
   * @returns true if the signal was delivered.
   * @example
   * proc.kill('SIGINT');
   */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.#exited || this.pid === undefined) return false;
    return this.#child.kill(signal);
  }

  /**
   * For `await using`: SIGKILL the child if it still runs, close its pipes,
   * and wait (uninterruptibly up to 5 s) for it to be reaped.
   *
   * @returns once the child is gone.
   * @example
   * await using proc = spawnProcess('sleep', ['60']);
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await reapChild(this.#child, () => this.#exited);
    this.stdin._destroy();
    this.stdout._destroy();
    this.stderr._destroy();
  }
}

/**
 * Start a child process with its stdin, stdout and stderr as pipes, read and
 * written cooperatively. Returns at once; a spawn error (`ENOENT` for a
 * missing command) surfaces from `wait()` (and `pid` is `undefined`).
 *
 * @param cmd the program (looked up in `PATH`); no shell is involved.
 * @param args its arguments.
 * @param opts `cwd`, `env`.
 * @returns the {@link Process}.
 * @example
 * const proc = spawnProcess('/bin/sh', ['-c', 'read x; echo "got $x"']);
 * await proc.stdin.write('1\n');
 * console.log(await proc.stdout.readLine()); // 'got 1'
 * await proc.wait();
 */
export function spawnProcess(
  cmd: string,
  args: readonly string[] = [],
  opts: SpawnProcessOptions = {},
): Process {
  const child = nodeSpawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return new Process(child);
}

/**
 * Run a command to completion: write `input` to its stdin (then close it),
 * collect all of stdout and stderr, and wait for it to exit — like gevent's
 * `subprocess.run(capture_output=True)`. The pipes are drained concurrently,
 * so large outputs on both cannot deadlock.
 *
 * A non-zero exit or a death by signal is **not** an error: check
 * `exitCode` / `signal`. If `timeout` runs out, `signal` aborts, or the
 * calling greenlet is killed, the child is sent **SIGKILL** at once (no
 * SIGTERM grace; as gevent's `run()` does on `TimeoutExpired`) and waited for,
 * so no zombie is left; then the `Timeout` / abort reason / kill error is
 * thrown.
 *
 * @param cmd the program (looked up in `PATH`); no shell.
 * @param args its arguments.
 * @param opts `input`, `timeout` (ms, whole run), `signal`, `cwd`, `env`.
 * @returns `{ exitCode, signal, stdout, stderr }`.
 * @throws the spawn error with Node's `code` (`ENOENT`, `EACCES`); `Timeout`
 *   (`ETIMEDOUT`); `signal.reason`; the error of a `kill()`.
 * @example
 * const { exitCode, stdout } = await runProcess('/bin/sh', ['-c', 'echo hi'], { timeout: 5000 });
 */
export async function runProcess(
  cmd: string,
  args: readonly string[] = [],
  opts: RunProcessOptions = {},
): Promise<ProcessResult> {
  if (opts.signal?.aborted) throw opts.signal.reason;
  const child = nodeSpawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  child.stderr?.on('data', (c: Buffer) => err.push(c));
  // EPIPE when the child does not read its input is not an error of the run.
  child.stdin?.on('error', () => {});
  child.stdout?.on('error', () => {});
  child.stderr?.on('error', () => {});
  let spawnError: Error | undefined;
  let exited = false;
  let closed = false;
  let exitCode: number | null = null;
  let signal: NodeJS.Signals | null = null;
  let wake: Waiter<void> | undefined;
  child.on('error', (e: Error) => {
    if (child.pid === undefined) {
      spawnError ??= e;
      closed = true;
      wake?.switch();
    }
  });
  child.on('exit', (code, sig) => {
    exited = true;
    exitCode = code;
    signal = sig;
  });
  // 'close': exited and every pipe drained.
  child.on('close', () => {
    exited = true;
    closed = true;
    wake?.switch();
  });
  if (child.pid !== undefined && child.stdin) {
    if (opts.input !== undefined && opts.input.length > 0) {
      child.stdin.end(typeof opts.input === 'string' ? Buffer.from(opts.input, 'utf8') : opts.input);
    } else child.stdin.end();
  }
  if (!closed) {
    const waiter = new Waiter<void>('process wait');
    wake = waiter;
    try {
      await waiter.get({ timeout: opts.timeout, signal: opts.signal });
    } catch (e) {
      await reapChild(child, () => exited);
      throw e;
    } finally {
      wake = undefined;
    }
  }
  if (spawnError) throw spawnError;
  return { exitCode, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) };
}

/** SIGKILL a child and wait (bounded, best effort even if interrupted again) until it exited. */
async function reapChild(child: ChildProcess, exited: () => boolean): Promise<void> {
  if (!exited() && child.pid !== undefined) child.kill('SIGKILL');
  for (let i = 0; i < 2 && !exited() && child.pid !== undefined; i++) {
    const w = new Waiter<void>('process wait');
    const wake = (): void => {
      w.switch();
    };
    child.once('exit', wake);
    try {
      if (!exited()) await w.get({ timeout: 5000 });
    } catch {
      // Interrupted again or timed out: the child was SIGKILLed; Node reaps it on exit.
    } finally {
      child.off('exit', wake);
    }
  }
  // A grandchild may still hold the pipes open: do not wait for them.
  child.stdin?.destroy();
  child.stdout?.destroy();
  child.stderr?.destroy();
}
