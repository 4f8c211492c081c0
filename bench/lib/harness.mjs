// The process harness of the benchmarks that measure servers in processes of
// their own (packages/hub-libev/bench, packages/net/bench): start children
// pinned to a core, read their stdout line by line, read their CPU time and
// RSS from /proc, run contenders interleaved, and print a table of medians
// with min-max and the ratio to a baseline measured in the same run.
//
// Every child started here is killed (SIGKILL) when this process exits, on
// success, failure or SIGINT/SIGTERM/SIGHUP.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { quick, REPEATS, writeJsonRows } from './args.mjs';
import { BUSY_NOTE, BUSY_SHARE, machineBusy } from './busy.mjs';

export { BUSY_NOTE, BUSY_SHARE, machineBusy, quick, REPEATS };

/** How long a child may take to print the line a bench waits for. */
export const PROCESS_TIMEOUT_MS = 60_000;

const children = new Set();

/** Kill every child still running (SIGKILL, or the `killSignal` it was started with). */
export function killAll() {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill(child.killSignal ?? 'SIGKILL');
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'])
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });

export function hasCommand(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Whether children can be pinned to cores: two cores or more and taskset. */
export const pinnable = os.cpus().length >= 2 && hasCommand('taskset');

/**
 * Start `argv`, pinned to core `cpu` when possible, and collect its stdout lines.
 *
 * @param opts.cpu the core to pin the child to (`undefined`: not pinned)
 * @param opts.cwd its working directory (default: this process's)
 * @param opts.env extra environment variables
 * @param opts.inheritStdout let the child write to this process's stdout (`lines` then stays empty)
 * @param opts.killSignal what {@link killAll} sends it: SIGTERM for a child that must kill children of
 *   its own first (a bench run by bench/run.mjs), SIGKILL by default
 * @returns `{ child, lines }`: `child.done` resolves with `{ code, signal }` on exit;
 *   `lines` fills up with the child's stdout lines (see {@link waitLine}).
 */
export function start(argv, { cpu, cwd, env, inheritStdout = false, killSignal } = {}) {
  const [cmd, ...args] = pinnable && cpu !== undefined ? ['taskset', '-c', String(cpu), ...argv] : argv;
  const child = spawn(cmd, args, {
    stdio: ['pipe', inheritStdout ? 'inherit' : 'pipe', 'inherit'],
    cwd,
    env: env ? { ...process.env, ...env } : process.env,
  });
  child.killSignal = killSignal;
  children.add(child);
  const lines = [];
  const push = (line) => {
    lines.push(line);
    lines.onPush?.();
  };
  let buffered = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (text) => {
    buffered += text;
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      push(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  });
  child.done = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      children.delete(child);
      if (buffered) push(buffered);
      resolve({ code, signal });
    }),
  );
  return { child, lines };
}

/** How long a child may take to exit after SIGTERM before it gets SIGKILL. */
export const STOP_TIMEOUT_MS = 15_000;

/** SIGTERM `child` (if still running; SIGKILL after {@link STOP_TIMEOUT_MS}) and wait for its exit. */
export async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return child.done;
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    console.error(`pid ${child.pid} still running ${STOP_TIMEOUT_MS} ms after SIGTERM: SIGKILL`);
    child.kill('SIGKILL');
  }, STOP_TIMEOUT_MS);
  try {
    return await child.done;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Wait for a line of a started child.
 *
 * @param started what {@link start} returned
 * @param match accepts the awaited line
 * @param what names the wait in errors
 * @returns the first line `match` accepts; rejects if the child exits first or after {@link PROCESS_TIMEOUT_MS}.
 */
export function waitLine({ child, lines }, match, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), PROCESS_TIMEOUT_MS);
    const check = () => {
      const line = lines.find(match);
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(line);
        return true;
      }
      return false;
    };
    if (check()) return;
    lines.onPush = check;
    child.done.then(({ code, signal }) => {
      if (!check()) {
        clearTimeout(timer);
        reject(new Error(`${what}: process exited (${signal ?? code}) first`));
      }
    });
  });
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU time (user + system) of process `pid` so far, in ms. */
export function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/** Resident set size of process `pid`, in KB. */
export function rssKb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Run every contender `repeats` times, interleaved, rotating the order each round.
 *
 * @param runOne async (contender) => `{ value, ... }`
 * @returns a Map contender → its runs, each with the machine's load just before it (`load`, see {@link machineBusy}).
 */
export async function interleaved(contenders, repeats, runOne) {
  const runs = new Map(contenders.map((c) => [c, []]));
  for (let r = 0; r < repeats; r++) {
    for (let i = 0; i < contenders.length; i++) {
      const c = contenders[(i + r) % contenders.length];
      const load = machineBusy();
      const result = await runOne(c);
      runs.get(c).push({ ...result, load });
    }
  }
  return runs;
}

/** One line naming the machine: Node version, cores and their model, OS. */
export function machine() {
  const cpu = os.cpus();
  return `node ${process.version}, ${cpu.length} x ${cpu[0]?.model.trim()}, ${os.platform()} ${os.release()}`;
}

function fmt(x) {
  if (x >= 100_000) return `${(x / 1000).toFixed(0)}k`;
  if (x >= 10_000) return `${(x / 1000).toFixed(1)}k`;
  if (x >= 100) return x.toFixed(0);
  return x.toFixed(1);
}

/**
 * The results of a bench: one row per workload and contender. Runs may carry
 * `clientCpu` (the load client's CPU use, 1 = a core) and `serverUsPerRt`
 * (server CPU time per round trip), shown in columns of their own.
 */
export class Results {
  rows = [];

  /**
   * Add the rows of one workload.
   *
   * @param runs what {@link interleaved} returned
   * @param baseline the contender the others' ratios are computed against
   * @param labels contender → the name shown
   */
  add(workload, unit, runs, baseline, labels = {}) {
    const baseMedian = median(runs.get(baseline).map((r) => r.value));
    for (const [contender, list] of runs) {
      const values = list.map((r) => r.value);
      const m = median(values);
      this.rows.push({
        workload,
        contender: labels[contender] ?? contender,
        key: contender,
        unit,
        median: m,
        min: Math.min(...values),
        max: Math.max(...values),
        ratio: contender === baseline ? undefined : m / baseMedian,
        baseline: contender === baseline,
        loaded: list.some((r) => r.load > BUSY_SHARE),
        clientCpu: list[0].clientCpu === undefined ? undefined : Math.max(...list.map((r) => r.clientCpu)),
        serverUs: list[0].serverUsPerRt === undefined ? undefined : median(list.map((r) => r.serverUsPerRt)),
      });
    }
  }

  /** The row of `workload` for contender `key`. */
  get(workload, key) {
    return this.rows.find((r) => r.workload === workload && r.key === key);
  }

  /** Print the rows as a markdown table, and write them to the file --json names (see args.mjs). */
  print() {
    writeJsonRows(this.rows);
    const head = [
      'workload',
      'contender',
      'median',
      'min-max',
      'unit',
      'ratio',
      'server us/rt',
      'client cpu',
      'busy',
    ];
    const body = this.rows.map((r) => [
      r.workload,
      r.contender,
      fmt(r.median),
      `${fmt(r.min)}-${fmt(r.max)}`,
      r.unit,
      r.ratio === undefined ? 'baseline' : `${r.ratio.toFixed(2)}x`,
      r.serverUs === undefined ? '' : r.serverUs.toFixed(2),
      r.clientCpu === undefined ? '' : `${Math.round(r.clientCpu * 100)}%`,
      r.loaded ? '*' : '',
    ]);
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
    const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
    console.log(line(head));
    console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const b of body) console.log(line(b));
  }
}

/**
 * The hubs among `names` that load here, in that order; each other one is
 * named on stdout with the reason it cannot load.
 */
export async function loadableHubs(names) {
  const { availableHubs } = await import('@greenhub/core');
  const loadable = [];
  for (const hub of availableHubs().filter((h) => names.includes(h.name))) {
    if (hub.available) loadable.push(hub.name);
    else console.log(`(hub ${hub.name} skipped: ${hub.reason?.split('\n')[0]})`);
  }
  return loadable;
}
