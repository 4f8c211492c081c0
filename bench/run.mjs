// The benchmark dashboard (issue 8; not a test: never in CI). One run of the
// per-package benches on every available hub, with Node's own baselines and,
// when Debian's /usr/bin/python3 can import them, gevent and eventlet doing
// the same work in the same runs; then one table of absolute figures and
// ratios to Node, and a chart of the ratios.
//
//   npm run bench         (builds, then) node bench/run.mjs: writes bench/results/latest.{json,md,svg}
//   npm run bench:smoke   (builds, then) node bench/run.mjs --quick: small counts, 1 repeat,
//                         writes bench/results/smoke.* so that it never replaces the published table
//
// Each bench below runs in a process of its own with --json (its rows) and
// --with (the Python contenders it should add), see bench/lib/args.mjs; this
// file only merges what they measured. gevent and eventlet are never
// installed here: a missing one is skipped with a note saying how to get it.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAll, pinnable, quick, REPEATS, start } from './lib/harness.mjs';
import { installHint, PYTHON, PYTHON_LIBS, pythonVersions } from './lib/python.mjs';
import { renderMarkdown, renderSvg } from './lib/report.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const resultsDir = path.join(root, 'bench', 'results');
/** A smoke run writes beside the published results, never over them. */
const outName = quick ? 'smoke' : 'latest';

/** The benches run, in this order; `what` says in the report what they measure and against what. */
const BENCHES = [
  {
    name: 'core',
    dir: 'packages/core',
    script: 'bench/run.mjs',
    what:
      'greenlets against plain promises, each run in a fresh process: spawn+join; hand-offs between two' +
      ' greenlets through the core `Waiter` (gevent/eventlet: see the `Queue` row); N sleeps of 0-9 ms at' +
      ' once (gevent/eventlet: N hub timers firing callbacks, no greenlet per timer)',
  },
  {
    name: 'sync',
    dir: 'packages/sync',
    script: 'bench/run.mjs',
    what:
      'sync primitives against promise equivalents: hand-offs between two greenlets through two `Queue`s' +
      ' (gevent/eventlet: their own `Queue`), Semaphore, Pool; per operation',
  },
  {
    name: 'net',
    dir: 'packages/net',
    script: 'bench/run.mjs',
    what:
      'TCP echo of 64-byte messages (one C load client for every server: `StreamServer` on each hub,' +
      " `node:net`, gevent's `StreamServer`, eventlet's `serve()`), and server RSS per idle connection",
  },
  {
    name: 'http',
    dir: 'packages/net',
    script: 'bench/http.mjs',
    what: "HTTP hello world with `wrk -t1 -c50`: `serve()` on each hub, `node:http`, gevent's pywsgi, eventlet.wsgi",
  },
  {
    name: 'websocket',
    dir: 'packages/net',
    script: 'bench/websocket.mjs',
    what:
      'WebSocket echo of 64-byte binary messages over 50 connections (the C load client in its `ws` mode):' +
      ' `upgradeWebSocket()` on each hub against the `ws` package on `node:http` (no Python row: gevent has no' +
      " WebSocket server of its own, and eventlet's is not measured here)",
  },
  {
    name: 'udp',
    dir: 'packages/net',
    script: 'bench/udp.mjs',
    what:
      'UDP echo of 64-byte datagrams from 1 and 50 client sockets (the C load client in its `udp` mode):' +
      ' `DatagramServer` on each hub (a handler greenlet per datagram, as in gevent) against a `node:dgram`' +
      ' socket echoing in its message listener (no Python row yet)',
  },
];

/** The libev version from its header (the one hub-libev is built against), or null. */
function libevVersion() {
  for (const dir of ['/usr/include', '/usr/local/include', '/opt/homebrew/include']) {
    try {
      const header = readFileSync(path.join(dir, 'ev.h'), 'utf8');
      const major = /#\s*define EV_VERSION_MAJOR\s+(\d+)/.exec(header)?.[1];
      const minor = /#\s*define EV_VERSION_MINOR\s+(\d+)/.exec(header)?.[1];
      if (major) return `${major}.${minor}`;
    } catch {
      // not in this directory
    }
  }
  return null;
}

function machineInfo() {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    os: `${os.platform()} ${os.release()}`,
    loadBefore: os.loadavg().map((l) => Number(l.toFixed(2))),
    pinned: pinnable,
  };
}

/** Run one bench in a process of its own and return its rows, each tagged with the bench's name. */
async function runBench(bench, pythons, tmp) {
  const json = path.join(tmp, `${bench.name}.json`);
  const argv = [process.execPath, bench.script, '--json', json];
  if (quick) argv.push('--quick');
  if (pythons.length > 0) argv.push('--with', pythons.join(','));
  console.log(`\n==== ${bench.name}: ${bench.dir}/${bench.script}`);
  // SIGTERM on our failure or signal: the bench then kills the servers and clients it started itself.
  const { child } = start(argv, {
    cwd: path.join(root, bench.dir),
    inheritStdout: true,
    killSignal: 'SIGTERM',
  });
  const { code, signal } = await child.done;
  if (code !== 0) throw new Error(`${bench.dir}/${bench.script} failed (${signal ?? `exit ${code}`})`);
  return JSON.parse(readFileSync(json, 'utf8')).rows.map((row) => ({ ...row, bench: bench.name }));
}

/** The column a bench row goes to: Node's baselines, a hub, or a Python contender. */
function column(row) {
  if (row.baseline) return 'node';
  return row.key === 'baseline-als' ? 'node-als' : row.key;
}

/**
 * Group the benches' rows by workload. A ratio to Node is always "higher is
 * better": rate / Node's rate for throughputs (units ending in /s), Node's
 * figure / this figure for times and memory.
 */
function mergeRows(rows) {
  const workloads = new Map();
  for (const row of rows) {
    const id = `${row.bench}\u0000${row.workload}`;
    if (!workloads.has(id))
      workloads.set(id, {
        bench: row.bench,
        workload: row.workload,
        unit: row.unit,
        higherIsBetter: row.unit.endsWith('/s'),
        baseline: undefined,
        figures: {},
      });
    const w = workloads.get(id);
    if (row.baseline) w.baseline = row.contender;
    w.figures[column(row)] = {
      label: row.contender,
      median: row.median,
      min: row.min,
      max: row.max,
      loaded: row.loaded,
      ...(row.clientCpu === undefined ? {} : { clientCpu: row.clientCpu }),
      ...(row.serverUs === undefined ? {} : { serverUs: row.serverUs }),
    };
  }
  for (const w of workloads.values()) {
    const node = w.figures.node;
    for (const f of Object.values(w.figures))
      f.vsNode = w.higherIsBetter ? f.median / node.median : node.median / f.median;
  }
  return [...workloads.values()];
}

async function main() {
  const startedAt = new Date();
  const machine = machineInfo();
  const versions = pythonVersions();
  const notes = [];
  const pythons = PYTHON_LIBS.filter((lib) => {
    if (versions[lib]) return true;
    notes.push(
      `${lib} rows skipped: ${PYTHON} cannot import it (${versions[`${lib}_error`]}); to include them: ${installHint(lib)}`,
    );
    return false;
  });
  for (const note of notes) console.log(`(${note})`);
  if (machine.loadBefore[0] > 1)
    console.log(`(the machine is busy: load average ${machine.loadBefore[0]} before the run)`);

  const tmp = mkdtempSync(path.join(os.tmpdir(), 'greenhub-dashboard-'));
  process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
  const rows = [];
  const failed = [];
  for (const bench of BENCHES) {
    try {
      rows.push(...(await runBench(bench, pythons, tmp)));
    } catch (err) {
      // The other benches' figures are still worth writing (a hub rebuilt under a run, say); the exit code says.
      console.error(err);
      failed.push(bench.name);
      notes.push(`${bench.name} FAILED (${err.message}): its rows are missing`);
    }
  }

  const finishedAt = new Date();
  const report = {
    startedAt: startedAt.toISOString(),
    durationS: Math.round((finishedAt - startedAt) / 1000),
    quick,
    repeats: REPEATS,
    machine,
    versions: {
      node: process.version,
      python: versions.python,
      gevent: versions.gevent,
      eventlet: versions.eventlet,
      libev: libevVersion(),
      geventLoop: versions.gevent_libev ?? versions.gevent_loop ?? null,
    },
    benches: BENCHES.map(({ name, dir, script, what }) => ({ name, script: `${dir}/${script}`, what })),
    notes,
    workloads: mergeRows(rows),
  };
  mkdirSync(resultsDir, { recursive: true });
  const file = (ext) => path.join(resultsDir, `${outName}.${ext}`);
  writeFileSync(file('json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(file('md'), renderMarkdown(report, `${outName}.svg`));
  writeFileSync(file('svg'), renderSvg(report));
  console.log(`\n${readFileSync(file('md'), 'utf8')}`);
  console.log(`written: ${['json', 'md', 'svg'].map((ext) => path.relative(root, file(ext))).join(', ')}`);
  console.log(`the run took ${report.durationS} s`);
  if (failed.length > 0) {
    console.error(`failed: ${failed.join(', ')} (see above)`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  killAll();
  process.exit(1);
});
