// The HTTP benchmark of issue 6 (not a test: never in CI): HttpServer (serve()
// with a fetch-style handler) against Node's `http`, measured in the same run
// with wrk; only the ratios are meant to be compared across machines.
//
//   node bench/http.mjs            median of 3 wrk runs per server
//   node bench/http.mjs --quick    a short smoke run: 1 run each, 2 s
//   --monitor                      each hub again with GREENHUB_MONITOR=1
//   --with gevent,eventlet         gevent's pywsgi and eventlet.wsgi too (bench/python/http_server.py)
//   --json FILE                    also write the rows as JSON (the root's bench/run.mjs merges them)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BUSY_NOTE,
  cpuMs,
  interleaved,
  killAll,
  loadableHubs,
  machine,
  pinnable,
  quick,
  REPEATS,
  Results,
  start,
  stop,
} from '../../../bench/lib/harness.mjs';
import { startServer } from '../../../bench/lib/load-client.mjs';
import { isPython, pythonArgv, pythonContenders } from '../../../bench/lib/python.mjs';
import { ensureWrk } from '../../../bench/lib/wrk.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const cwd = path.join(here, '..');
const WRK = { threads: 1, conns: 50, seconds: quick ? 2 : 5, warmupSeconds: 1 };
const HUBS = ['libev', 'pure'];
const MONITOR = process.argv.includes('--monitor');
/** hub → the least req/s, as a multiple of Node http's, that meets issue 6's target. */
const TARGET = { libev: 1.25, pure: 1.0 };
const LABELS = {
  node: 'node:http',
  libev: 'HttpServer, hub-libev',
  pure: 'HttpServer, hub-pure',
  gevent: 'gevent pywsgi',
  eventlet: 'eventlet.wsgi',
};

/** A latency of wrk's output ("850.00us", "1.23ms", "2.00s") in ms. */
function ms(text) {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (!m) throw new Error(`cannot read wrk latency ${JSON.stringify(text)}`);
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]];
}

/** Run wrk for `seconds` against `port` (pinned to core 1); resolves with its whole output. */
async function wrk(port, seconds) {
  const argv = [
    'wrk',
    `-t${WRK.threads}`,
    `-c${WRK.conns}`,
    `-d${seconds}s`,
    '--latency',
    `http://127.0.0.1:${port}/`,
  ];
  const run = start(argv, { cpu: 1 });
  const { code, signal } = await run.child.done;
  if (code !== 0) throw new Error(`wrk failed (${signal ?? code}): ${run.lines.join('\n')}`);
  return run.lines.join('\n');
}

/** One run: a fresh server, a warm-up, then the measured wrk run. */
async function httpRun(kind) {
  const argv = isPython(kind)
    ? pythonArgv('http_server.py', kind)
    : [process.execPath, path.join(here, 'http-server.mjs'), kind === 'node' ? 'node' : 'greenhub'];
  const hub = kind.replace(/\+monitor$/, '');
  const env =
    kind === 'node' || isPython(kind)
      ? undefined
      : { GREENHUB_HUB: hub, GREENHUB_MONITOR: hub === kind ? '0' : '1' };
  const server = await startServer(argv, { cpu: 0, cwd, env }, `${LABELS[kind]} server`);
  try {
    const expected = kind === 'node' ? 'node:http' : hub;
    if (server.info.hub !== expected)
      throw new Error(`${LABELS[kind]}: the server runs on ${server.info.hub}`);
    await wrk(server.port, WRK.warmupSeconds);
    const cpuFrom = cpuMs(server.child.pid);
    const out = await wrk(server.port, WRK.seconds);
    const serverCpu = cpuMs(server.child.pid) - cpuFrom;
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
    const p99 = ms(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '');
    const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(out);
    if (!(rps > 0)) throw new Error(`no Requests/sec in wrk's output:\n${out}`);
    if (errors) throw new Error(`${LABELS[kind]}: wrk saw errors: ${errors[0]}`);
    return { value: rps, p99, serverUsPerRt: (serverCpu * 1000) / (rps * WRK.seconds) };
  } finally {
    await stop(server.child);
  }
}

async function main() {
  ensureWrk();
  const servers = ['node'];
  const hubs = await loadableHubs(HUBS);
  for (const hub of hubs) {
    servers.push(hub);
    if (MONITOR) {
      servers.push(`${hub}+monitor`);
      LABELS[`${hub}+monitor`] = `${LABELS[hub]} + monitor`;
    }
  }
  servers.push(...pythonContenders());
  const startedAt = new Date();
  const runs = await interleaved(servers, REPEATS, httpRun);
  const results = new Results();
  results.add('http hello', 'req/s', runs, 'node', LABELS);
  const p99 = new Map([...runs].map(([kind, list]) => [kind, list.map((r) => ({ ...r, value: r.p99 }))]));
  results.add('http p99 latency', 'ms', p99, 'node', LABELS);

  console.log(`\n@greenhub/net HTTP benchmark${quick ? ' (--quick)' : ''}: ${machine()}`);
  console.log(
    `started ${startedAt.toISOString()}, median of ${REPEATS} (min-max); wrk -t${WRK.threads} -c${WRK.conns}` +
      ` -d${WRK.seconds}s --latency after a ${WRK.warmupSeconds} s warm-up, per run; "Hello, world!" as text/plain`,
  );
  console.log(
    `server and wrk ${pinnable ? 'pinned to cores 0 and 1' : 'not pinned (no taskset or one core)'}; ratio = median / baseline median` +
      ' (req/s: higher is better; p99: lower is better); server us/rt = server CPU time per request (median);' +
      ` ${BUSY_NOTE}\n`,
  );
  results.print();
  console.log('');
  for (const kind of servers.filter((k) => k.endsWith('+monitor'))) {
    const hub = kind.replace(/\+monitor$/, '');
    const ratio = results.get('http hello', kind).median / results.get('http hello', hub).median;
    console.log(
      `hub-${hub} with GREENHUB_MONITOR=1: ${ratio.toFixed(3)}x its req/s without (target >= 0.97)`,
    );
  }
  for (const kind of hubs) {
    const { ratio } = results.get('http hello', kind);
    const latency = results.get('http p99 latency', kind);
    const goal = TARGET[kind];
    console.log(
      `hub-${kind}: ${ratio.toFixed(2)}x node:http req/s (target >= ${goal.toFixed(2)}x: ${ratio >= goal ? 'met' : 'MISSED'}),` +
        ` p99 ${latency.median.toFixed(2)} ms = ${latency.ratio.toFixed(2)}x node's (target <= 1x: ${latency.ratio <= 1 ? 'met' : 'MISSED'})`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  killAll();
  process.exit(1);
});
