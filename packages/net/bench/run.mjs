// Benchmarks of issue 5 (not tests: never in CI): StreamServer, as a user
// writes it, against Node's `net`, measured in the same run; only the ratios
// are meant to be compared across machines.
//
//   node bench/run.mjs           the full run (3 to 5 minutes), median of 3 runs each
//   node bench/run.mjs --quick   a short smoke run: 1 run each, smaller counts
//   --with gevent,eventlet       gevent's StreamServer and eventlet's serve() too (bench/python/echo_server.py)
//   --json FILE                  also write the rows as JSON (the root's bench/run.mjs merges them)
//
// 1. TCP echo, 64-byte ping-pong at 1, 50 and 200 connections: a StreamServer
//    echo server (bench/echo-server.mjs: run(), one handler greenlet per
//    connection doing `for await (const chunk of sock) await sock.write(chunk)`)
//    on hub-libev and on hub-pure (GREENHUB_HUB), and a Node `net` echo server
//    (the baseline), each in its own process, all driven by the C load client
//    of bench/lib/client.c at the repo root (compiled with cc) in another
//    process. Server and client are pinned to different cores when taskset is
//    there; on a 2-core machine that is the best there is.
// 2. RSS per idle connection: server RSS growth / connections, after gc(),
//    with 10,000 idle connections held open by the client process, each held
//    by a handler greenlet blocked reading its socket; read 300 ms after the
//    last accept, and again once "settled" (6 s idle and another gc(): V8
//    then gives back the young generation the accept burst grew; read once
//    the RSS stops moving, as V8 frees those pages on a background thread).
//
// Runs of different contenders are interleaved. Loopback only; every process
// started here is killed on exit or failure. Needs `npm run build` of core,
// sync, net and the hubs, and cc for the client.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BUSY_NOTE,
  interleaved,
  killAll,
  loadableHubs,
  machine,
  pinnable,
  quick,
  REPEATS,
  Results,
} from '../../../bench/lib/harness.mjs';
import {
  buildClient,
  ECHO,
  echoRun,
  IDLE_CONNS,
  idleRun,
  startContender,
} from '../../../bench/lib/load-client.mjs';
import { isPython, pythonArgv, pythonContenders } from '../../../bench/lib/python.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const cwd = path.join(here, '..');
const HUBS = ['libev', 'pure'];
/** hub → the least echo throughput, as a multiple of node:net's, that meets issue 5's target. */
const ECHO_TARGET = { libev: 1.0, pure: 0.8 };
/** The most server memory per idle connection on hub-libev that meets issue 5's target. */
const IDLE_TARGET_BYTES = 4 * 1024;
const LABELS = {
  net: 'node:net',
  libev: 'StreamServer, hub-libev',
  pure: 'StreamServer, hub-pure',
  gevent: 'gevent StreamServer',
  eventlet: 'eventlet serve()',
};

// ---- the measurements -------------------------------------------------------------------------------------

function echoServer(kind, holdConns) {
  const hold = holdConns ? [String(holdConns)] : [];
  const argv = isPython(kind)
    ? pythonArgv('echo_server.py', kind, ...hold)
    : [
        process.execPath,
        ...(holdConns ? ['--expose-gc'] : []),
        path.join(here, 'echo-server.mjs'),
        kind === 'net' ? 'net' : 'greenhub',
        ...hold,
      ];
  const env = kind === 'net' || isPython(kind) ? undefined : { GREENHUB_HUB: kind };
  return startContender(argv, { cpu: 0, cwd, env }, LABELS[kind], kind === 'net' ? 'node:net' : kind);
}

// ---- results ----------------------------------------------------------------------------------------------

const results = new Results();

function targets(servers) {
  const hubs = servers.filter((kind) => HUBS.includes(kind));
  const out = [];
  for (const conns of ECHO.conns) {
    const parts = hubs.map((kind) => {
      const { ratio } = results.get(`echo ${conns} conn`, kind);
      const goal = ECHO_TARGET[kind];
      return `hub-${kind} ${ratio.toFixed(2)}x node:net (target >= ${goal.toFixed(1)}x: ${ratio >= goal ? 'met' : 'MISSED'})`;
    });
    out.push(`echo at ${conns}: ${parts.join(', ')}`);
  }
  for (const workload of ['idle conn RSS', 'idle conn RSS, settled']) {
    const parts = hubs.map((kind) => {
      const { median, ratio } = results.get(workload, kind);
      const kb = `${(median / 1024).toFixed(2)} KB/conn`;
      const goal =
        kind === 'libev'
          ? ` (target <= ${IDLE_TARGET_BYTES / 1024} KB: ${median <= IDLE_TARGET_BYTES ? 'met' : 'MISSED'})`
          : '';
      return `hub-${kind} ${kb}${goal}, ${ratio.toFixed(2)}x node:net`;
    });
    out.push(`${workload}: ${parts.join('; ')}`);
  }
  return out;
}

// ---- main -------------------------------------------------------------------------------------------------

async function main() {
  const servers = ['net'];
  servers.push(...(await loadableHubs(HUBS)), ...pythonContenders());
  const client = buildClient();
  const startedAt = new Date();

  for (const conns of ECHO.conns) {
    const runs = await interleaved(servers, REPEATS, (kind) =>
      echoRun(client, () => echoServer(kind), conns, ECHO),
    );
    results.add(`echo ${conns} conn`, 'round trips/s', runs, 'net', LABELS);
  }
  {
    const runs = await interleaved(servers, REPEATS, (kind) =>
      idleRun(client, () => echoServer(kind, IDLE_CONNS), IDLE_CONNS, { settled: true }),
    );
    results.add('idle conn RSS', 'bytes/conn', runs, 'net', LABELS);
    const settled = new Map(
      [...runs].map(([kind, list]) => [kind, list.map((r) => ({ ...r, value: r.settled }))]),
    );
    results.add('idle conn RSS, settled', 'bytes/conn', settled, 'net', LABELS);
  }

  console.log(`\n@greenhub/net benchmarks${quick ? ' (--quick)' : ''}: ${machine()}`);
  console.log(
    `started ${startedAt.toISOString()}, median of ${REPEATS} (min-max); echo ${ECHO.runMs} ms after ${ECHO.warmupMs} ms warm-up per run;` +
      ` ${IDLE_CONNS} idle connections`,
  );
  console.log(
    `server and client ${pinnable ? 'pinned to cores 0 and 1' : 'not pinned (no taskset or one core)'}; ratio = median / baseline median` +
      ' (echo: higher is better; RSS: lower is better); server us/rt = server CPU time per round trip (median);' +
      ` client cpu = busiest run of the load client (100% = the client is the bottleneck); ${BUSY_NOTE}\n`,
  );
  results.print();
  console.log('');
  for (const t of targets(servers)) console.log(t);
}

main().catch((err) => {
  console.error(err);
  killAll();
  process.exit(1);
});
