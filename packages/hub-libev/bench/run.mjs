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
//    same C load client (bench/lib/client.c at the repo root, compiled with
//    cc) in another process. Server and client are pinned to different cores when taskset is
//    there; on a 2-core machine that is the best there is.
// 2. Timers: a zero-delay timer chain (vs a setImmediate chain) and bursts of
//    1000 zero-delay timers (vs setTimeout), in a fresh process per run.
// 3. RSS per idle connection: server RSS growth / connections, with 10,000
//    idle connections (reading) held open by the client process.
//
// Runs of different contenders are interleaved. Loopback only; every process
// started here is killed on exit or failure. Needs `npm run build` here and in
// hub-pure, and cc for the client.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BUSY_NOTE,
  interleaved,
  killAll,
  machine,
  pinnable,
  quick,
  REPEATS,
  Results,
  start,
  waitLine,
} from '../../../bench/lib/harness.mjs';
import {
  buildClient,
  ECHO,
  echoRun,
  IDLE_CONNS,
  idleRun,
  startServer,
} from '../../../bench/lib/load-client.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const cwd = path.join(here, '..');
const TIMERS = { chain: quick ? 10_000 : 100_000, chainPure: quick ? 200 : 1000, rounds: quick ? 20 : 100 };
const SERVERS = ['net', 'libev', 'pure'];

// ---- the three measurements ------------------------------------------------------------------------------

function echoServer(kind, holdConns) {
  const argv = [
    process.execPath,
    ...(holdConns ? ['--expose-gc'] : []),
    path.join(here, 'echo-server.mjs'),
    kind,
  ];
  if (holdConns) argv.push(String(holdConns));
  return startServer(argv, { cpu: 0, cwd }, `${kind} server`);
}

async function timerRun(contender, workload, n) {
  const job = start([process.execPath, path.join(here, 'timer-chain.mjs'), contender, workload, String(n)], {
    cpu: 0,
    cwd,
  });
  const line = await waitLine(job, (l) => l.startsWith('{'), `${contender} ${workload}`);
  await job.child.done;
  return { value: JSON.parse(line).ns };
}

// ---- results ---------------------------------------------------------------------------------------------

const results = new Results();

function targets() {
  const get = (workload, key) => results.get(workload, key);
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
  const client = buildClient();
  const startedAt = new Date();

  for (const conns of ECHO.conns) {
    const runs = await interleaved(SERVERS, REPEATS, (kind) =>
      echoRun(client, () => echoServer(kind), conns, ECHO),
    );
    results.add(`echo ${conns} conn`, 'round trips/s', runs, 'net', labels());
  }
  {
    const chain = await interleaved(['node', 'libev', 'pure'], REPEATS, (c) =>
      timerRun(c, 'chain', c === 'pure' ? TIMERS.chainPure : TIMERS.chain),
    );
    results.add('timer(0) chain', 'ns/step', chain, 'node', { ...labels(), node: 'setImmediate' });
    const burst = await interleaved(['node', 'libev', 'pure'], REPEATS, (c) =>
      timerRun(c, 'burst', TIMERS.rounds),
    );
    results.add('1000 timers x rounds', 'ns/callback', burst, 'node', { ...labels(), node: 'setTimeout(0)' });
  }
  {
    const runs = await interleaved(SERVERS, REPEATS, (kind) =>
      idleRun(client, () => echoServer(kind, IDLE_CONNS), IDLE_CONNS),
    );
    results.add('idle conn RSS', 'bytes/conn', runs, 'net', labels());
  }

  console.log(`\nhub-libev benchmarks${quick ? ' (--quick)' : ''}: ${machine()}`);
  console.log(
    `started ${startedAt.toISOString()}, median of ${REPEATS} (min-max); echo ${ECHO.runMs} ms after ${ECHO.warmupMs} ms warm-up per run;` +
      ` chain ${TIMERS.chain} steps (hub-pure ${TIMERS.chainPure}: setTimeout's 1 ms floor); ${TIMERS.rounds} rounds of 1000 timers; ${IDLE_CONNS} idle connections`,
  );
  console.log(
    `server and client ${pinnable ? 'pinned to cores 0 and 1' : 'not pinned (no taskset or one core)'}; ratio = median / baseline median` +
      ' (echo: higher is better; timers and RSS: lower is better); server us/rt = server CPU time per round trip (median);' +
      ` client cpu = busiest run of the load client (100% = the client is the bottleneck); ${BUSY_NOTE}\n`,
  );
  results.print();
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
