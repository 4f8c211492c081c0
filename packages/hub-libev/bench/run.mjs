// Benchmarks of issue 4 (not tests: never in CI). Every figure is printed next
// to a baseline measured in the same run, and only the ratios are meant to be
// compared across machines.
//
//   node bench/run.mjs           the full run (about 3 minutes), median of 3 runs each
//   node bench/run.mjs --quick   a short smoke run: 1 run each, smaller counts
//
// 1. TCP echo, 64-byte ping-pong at 1, 50 and 200 connections: an echo server
//    on hub-libev, one on hub-pure (both written on the hub contract) and one
//    on Node's `net` (the baseline), each in its own process, all driven by the
//    same C load client (bench/client.c, compiled here with cc) in another
//    process. Server and client are pinned to different cores when taskset is
//    there; on a 2-core machine that is the best there is.
// 2. Timers: a zero-delay timer chain (vs a setImmediate chain) and bursts of
//    1000 zero-delay timers (vs setTimeout), in a fresh process per run.
// 3. RSS per idle connection: server RSS growth / connections, with 10,000
//    idle connections (reading) held open by the client process.
//
// Runs of different contenders are interleaved. Loopback only; every process
// started here is killed on exit or failure. Needs `npm run build` here and in
// hub-pure, and cc for the client.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');
const REPEATS = quick ? 1 : 3;
const ECHO = { conns: [1, 50, 200], warmupMs: quick ? 200 : 500, runMs: quick ? 500 : 2000 };
const TIMERS = { chain: quick ? 10_000 : 100_000, chainPure: quick ? 200 : 1000, rounds: quick ? 20 : 100 };
const IDLE_CONNS = quick ? 2000 : 10_000;
const SERVERS = ['net', 'libev', 'pure'];
const PROCESS_TIMEOUT_MS = 60_000;

// ---- processes: every child is tracked and killed on the way out ---------------------------------------

const children = new Set();
function killAll() {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'])
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });

const pinnable = os.cpus().length >= 2 && hasCommand('taskset');
function hasCommand(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Start `argv` (pinned to `cpu` when possible); lines of its stdout go to `onLine`. */
function start(argv, cpu, onLine) {
  const [cmd, ...args] = pinnable && cpu !== undefined ? ['taskset', '-c', String(cpu), ...argv] : argv;
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'], cwd: path.join(here, '..') });
  children.add(child);
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text) => {
    buffered += text;
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      onLine?.(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  });
  child.done = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      children.delete(child);
      if (buffered) onLine?.(buffered);
      resolve({ code, signal });
    }),
  );
  return child;
}

function stop(child) {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  return child.done;
}

/** Resolves with the first stdout line of `child` that `match` accepts; rejects on exit or timeout. */
function waitLine(child, lines, match, what) {
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

function startCollecting(argv, cpu) {
  const lines = [];
  const child = start(argv, cpu, (line) => {
    lines.push(line);
    lines.onPush?.();
  });
  return { child, lines };
}

/** CPU time (user + system) of process `pid` so far, in ms. */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function rssKb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
}

// ---- the three measurements ------------------------------------------------------------------------------

async function startServer(kind, holdConns) {
  const argv = [
    process.execPath,
    ...(holdConns ? ['--expose-gc'] : []),
    path.join(here, 'echo-server.mjs'),
    kind,
  ];
  if (holdConns) argv.push(String(holdConns));
  const server = startCollecting(argv, 0);
  const line = await waitLine(server.child, server.lines, (l) => l.startsWith('{'), `${kind} server`);
  return { ...server, port: JSON.parse(line).port };
}

async function echoRun(client, kind, conns) {
  const server = await startServer(kind);
  try {
    const load = startCollecting(
      [client, 'echo', String(server.port), String(conns), String(ECHO.warmupMs), String(ECHO.runMs)],
      1,
    );
    // The server's CPU time over the client's measuring window: a steadier figure than round trips/s
    // on a shared 2-core VM, where wake-up latency between cores dominates at low concurrency.
    let cpuFrom = 0;
    const mark = setTimeout(() => {
      cpuFrom = cpuMs(server.child.pid);
    }, ECHO.warmupMs);
    const line = await waitLine(load.child, load.lines, (l) => l.startsWith('{'), 'load client');
    const serverCpu = cpuMs(server.child.pid) - cpuFrom;
    clearTimeout(mark);
    await load.child.done;
    const { rps, cpu } = JSON.parse(line);
    return { value: rps, clientCpu: cpu, serverUsPerRt: (serverCpu * 1000) / (rps * (ECHO.runMs / 1000)) };
  } finally {
    await stop(server.child);
  }
}

async function idleRun(client, kind) {
  const server = await startServer(kind, IDLE_CONNS);
  let holder;
  try {
    const before = rssKb(server.child.pid);
    holder = startCollecting([client, 'hold', String(server.port), String(IDLE_CONNS)], 1);
    await waitLine(holder.child, holder.lines, (l) => l === 'held', 'client holding connections');
    await waitLine(server.child, server.lines, (l) => l === 'held', `${kind} server accepting`);
    const after = rssKb(server.child.pid);
    return { value: ((after - before) * 1024) / IDLE_CONNS };
  } finally {
    // The server closes first, so TIME_WAIT lands on its side and the client's ports are reusable.
    await stop(server.child);
    if (holder) {
      holder.child.stdin.end();
      await stop(holder.child);
    }
  }
}

async function timerRun(contender, workload, n) {
  const job = startCollecting(
    [process.execPath, path.join(here, 'timer-chain.mjs'), contender, workload, String(n)],
    0,
  );
  const line = await waitLine(job.child, job.lines, (l) => l.startsWith('{'), `${contender} ${workload}`);
  await job.child.done;
  return { value: JSON.parse(line).ns };
}

// ---- results ---------------------------------------------------------------------------------------------

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Runs every contender `REPEATS` times, interleaved, rotating the order each round. */
async function interleaved(contenders, runOne) {
  const runs = new Map(contenders.map((c) => [c, []]));
  for (let r = 0; r < REPEATS; r++) {
    for (let i = 0; i < contenders.length; i++) {
      const c = contenders[(i + r) % contenders.length];
      const load = os.loadavg()[0];
      const result = await runOne(c);
      runs.get(c).push({ ...result, load });
    }
  }
  return runs;
}

const rows = [];
function addRows(workload, unit, runs, baseline, labels = {}) {
  const baseMedian = median(runs.get(baseline).map((r) => r.value));
  for (const [contender, list] of runs) {
    const values = list.map((r) => r.value);
    const m = median(values);
    rows.push({
      workload,
      contender: labels[contender] ?? contender,
      key: contender,
      unit,
      median: m,
      min: Math.min(...values),
      max: Math.max(...values),
      ratio: contender === baseline ? undefined : m / baseMedian,
      loaded: list.some((r) => r.load > 1),
      clientCpu: list[0].clientCpu === undefined ? undefined : Math.max(...list.map((r) => r.clientCpu)),
      serverUs: list[0].serverUsPerRt === undefined ? undefined : median(list.map((r) => r.serverUsPerRt)),
    });
  }
}

function fmt(x) {
  if (x >= 100_000) return `${(x / 1000).toFixed(0)}k`;
  if (x >= 10_000) return `${(x / 1000).toFixed(1)}k`;
  if (x >= 100) return x.toFixed(0);
  return x.toFixed(1);
}

function printTable() {
  const head = [
    'workload',
    'contender',
    'median',
    'min-max',
    'unit',
    'ratio',
    'server us/rt',
    'client cpu',
    'load>1',
  ];
  const body = rows.map((r) => [
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

function targets() {
  const get = (workload, key) => rows.find((r) => r.workload === workload && r.key === key);
  const out = [];
  for (const conns of ECHO.conns) {
    const w = `echo ${conns} conn`;
    const libev = get(w, 'libev');
    const pure = get(w, 'pure');
    const vsPure = libev.median / pure.median;
    out.push(
      `echo at ${conns}: hub-libev ${libev.ratio.toFixed(2)}x net (target >= 1.15x: ${libev.ratio >= 1.15 ? 'met' : 'MISSED'}),` +
        ` ${vsPure.toFixed(2)}x hub-pure (target > 1x: ${vsPure > 1 ? 'met' : 'MISSED'})`,
    );
  }
  const chain = get('timer(0) chain', 'libev');
  out.push(
    `timer chain: hub-libev ${chain.ratio.toFixed(2)}x setImmediate (<= 1.5x): ${chain.ratio <= 1.5 ? 'met' : 'MISSED'}`,
  );
  const idle = get('idle conn RSS', 'libev');
  out.push(
    `idle RSS: hub-libev ${idle.ratio.toFixed(2)}x net (<= 1x): ${idle.ratio <= 1 ? 'met' : 'MISSED'}`,
  );
  return out;
}

// ---- main -------------------------------------------------------------------------------------------------

async function main() {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-libev-bench-'));
  process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
  const client = path.join(tmp, 'client');
  execFileSync('cc', ['-O2', '-Wall', '-o', client, path.join(here, 'client.c')], { stdio: 'inherit' });
  const startedAt = new Date();

  for (const conns of ECHO.conns) {
    const runs = await interleaved(SERVERS, (kind) => echoRun(client, kind, conns));
    addRows(`echo ${conns} conn`, 'round trips/s', runs, 'net', labels());
  }
  {
    const chain = await interleaved(['node', 'libev', 'pure'], (c) =>
      timerRun(c, 'chain', c === 'pure' ? TIMERS.chainPure : TIMERS.chain),
    );
    addRows('timer(0) chain', 'ns/step', chain, 'node', { ...labels(), node: 'setImmediate' });
    const burst = await interleaved(['node', 'libev', 'pure'], (c) => timerRun(c, 'burst', TIMERS.rounds));
    addRows('1000 timers x rounds', 'ns/callback', burst, 'node', { ...labels(), node: 'setTimeout(0)' });
  }
  {
    const runs = await interleaved(SERVERS, (kind) => idleRun(client, kind));
    addRows('idle conn RSS', 'bytes/conn', runs, 'net', labels());
  }

  const cpu = os.cpus();
  console.log(
    `\nhub-libev benchmarks${quick ? ' (--quick)' : ''}: node ${process.version}, ${cpu.length} x ${cpu[0]?.model.trim()}, ${os.platform()} ${os.release()}`,
  );
  console.log(
    `started ${startedAt.toISOString()}, median of ${REPEATS} (min-max); echo ${ECHO.runMs} ms after ${ECHO.warmupMs} ms warm-up per run;` +
      ` chain ${TIMERS.chain} steps (hub-pure ${TIMERS.chainPure}: setTimeout's 1 ms floor); ${TIMERS.rounds} rounds of 1000 timers; ${IDLE_CONNS} idle connections`,
  );
  console.log(
    `server and client ${pinnable ? 'pinned to cores 0 and 1' : 'not pinned (no taskset or one core)'}; ratio = median / baseline median` +
      ' (echo: higher is better; timers and RSS: lower is better); server us/rt = server CPU time per round trip (median);' +
      ' client cpu = busiest run of the load client (100% = the client is the bottleneck); load>1 = 1-min load average above 1 when a run started\n',
  );
  printTable();
  console.log('');
  for (const t of targets()) console.log(t);
}

function labels() {
  return { net: 'node:net', libev: 'hub-libev', pure: 'hub-pure' };
}

main().catch((err) => {
  console.error(err);
  killAll();
  process.exit(1);
});
