// The multi-core benchmark of issue 10 (not a test: never in CI): HttpServer
// hello world in one worker process against two worker processes sharing the
// port with `reusePort` (serveOnAllCores), on each hub, measured in the same
// run with wrk; the figure is the req/s ratio of 2 workers to 1.
//
//   node bench/multicore.mjs           the full run (about 1 minute per hub), median of 3 runs each
//   node bench/multicore.mjs --quick   a short smoke run: 1 run each, 2 s
//   node bench/multicore.mjs server    (internal) the server: serveOnAllCores with WORKERS workers on PORT
//
// Nothing is pinned: the servers are to use every core. wrk (`-t2 -c100`)
// needs CPU too, so on a 2-core machine it competes with the two workers and
// the ratio stays well below 2; the servers' CPU use (in cores, summed over
// the primary and its workers) shows how much of the machine they got.
// Hub-pure is measured only where Node's net has `reusePort` (22.12 / 23.1);
// on Node 20 it is reported as skipped. Loopback only; every process started
// here is killed on exit or failure. Needs builds of core, sync, net and the hubs.
import cluster from 'node:cluster';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const HELLO = 'Hello, world!';

if (process.argv[2] === 'server') {
  // The primary and, through cluster.fork(), every worker run this branch.
  const { getHub } = await import('@greenhub/core');
  const { HttpServer, Response, serveOnAllCores } = await import('@greenhub/net');
  const port = Number(process.env.PORT);
  await serveOnAllCores(
    async () => {
      const server = new HttpServer({ host: '127.0.0.1', port, reusePort: true }, () => new Response(HELLO));
      await server.start();
      process.stdout.write(`${JSON.stringify({ port, hub: getHub().name, pid: process.pid })}\n`);
      await server.serveForever();
    },
    { workers: Number(process.env.WORKERS), restart: false },
  );
  if (cluster.isPrimary) process.exit();
} else {
  await main();
}

async function main() {
  const {
    cpuMs,
    interleaved,
    killAll,
    loadableHubs,
    machine,
    quick,
    REPEATS,
    Results,
    start,
    stop,
    waitLine,
  } = await import('../../../bench/lib/harness.mjs');
  const { ensureWrk } = await import('../../../bench/lib/wrk.mjs');

  const WRK = { threads: 2, conns: 100, seconds: quick ? 2 : 5, warmupSeconds: 1 };
  const HUBS = ['libev', 'pure'];

  function nodeHasReusePort() {
    const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
    return major >= 23 || (major === 22 && minor >= 12);
  }

  /** A port free right now, for the workers to share. */
  function freePort() {
    return new Promise((resolve, reject) => {
      const server = net.createServer();
      server.on('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address();
        server.close(() => resolve(port));
      });
    });
  }

  async function wrk(port, seconds) {
    const argv = ['wrk', `-t${WRK.threads}`, `-c${WRK.conns}`, `-d${seconds}s`, `http://127.0.0.1:${port}/`];
    const run = start(argv);
    const { code, signal } = await run.child.done;
    if (code !== 0) throw new Error(`wrk failed (${signal ?? code}): ${run.lines.join('\n')}`);
    return run.lines.join('\n');
  }

  /** One run: a fresh primary with `workers` workers, a warm-up, then the measured wrk run. */
  async function multicoreRun(hub, workers) {
    const port = await freePort();
    const argv = [process.execPath, path.join(here, 'multicore.mjs'), 'server'];
    const server = start(argv, {
      cwd: path.join(here, '..'),
      env: { GREENHUB_HUB: hub, PORT: String(port), WORKERS: String(workers) },
    });
    try {
      const pids = [server.child.pid];
      for (let i = 0; i < workers; i++) {
        const line = await waitLine(
          server,
          (l) => l.startsWith('{') && !pids.includes(JSON.parse(l).pid),
          `worker ${i + 1} of ${workers}`,
        );
        const info = JSON.parse(line);
        if (info.hub !== hub) throw new Error(`a worker runs on ${info.hub}, not ${hub}`);
        pids.push(info.pid);
      }
      await wrk(port, WRK.warmupSeconds);
      const cpu = () => pids.reduce((sum, pid) => sum + cpuMs(pid), 0);
      const cpuFrom = cpu();
      const out = await wrk(port, WRK.seconds);
      const serverCpuMs = cpu() - cpuFrom;
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
      const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(out);
      if (!(rps > 0)) throw new Error(`no Requests/sec in wrk's output:\n${out}`);
      if (errors) throw new Error(`hub-${hub}, ${workers} workers: wrk saw errors: ${errors[0]}`);
      return {
        value: rps,
        serverUsPerRt: (serverCpuMs * 1000) / (rps * WRK.seconds),
        serverCores: serverCpuMs / (WRK.seconds * 1000),
      };
    } finally {
      await stop(server.child);
    }
  }

  try {
    ensureWrk();
    const hubs = [];
    for (const hub of await loadableHubs(HUBS)) {
      if (hub === 'pure' && !nodeHasReusePort())
        console.log(
          `(hub pure skipped: Node.js ${process.version}'s net has no reusePort; it came in 22.12 / 23.1)`,
        );
      else hubs.push(hub);
    }
    const startedAt = new Date();
    const results = new Results();
    const cores = [];
    for (const hub of hubs) {
      const runs = await interleaved([1, 2], REPEATS, (workers) => multicoreRun(hub, workers));
      results.add(`http hello, hub-${hub}`, 'req/s', runs, 1, {
        1: '1 process',
        2: '2 processes, reusePort',
      });
      for (const [workers, list] of runs) {
        const sorted = list.map((r) => r.serverCores).sort((a, b) => a - b);
        cores.push(
          `hub-${hub}, ${workers} process${workers > 1 ? 'es' : ''}: server CPU ${sorted[Math.floor(sorted.length / 2)].toFixed(2)} cores`,
        );
      }
    }

    console.log(`\n@greenhub/net multi-core benchmark${quick ? ' (--quick)' : ''}: ${machine()}`);
    console.log(
      `started ${startedAt.toISOString()}, median of ${REPEATS} (min-max); wrk -t${WRK.threads} -c${WRK.conns}` +
        ` -d${WRK.seconds}s after a ${WRK.warmupSeconds} s warm-up, per run; "Hello, world!" as text/plain;` +
        ' nothing pinned (wrk shares the cores with the servers); ratio = median / 1-process median;' +
        ' server us/rt = CPU time of the primary and its workers per request\n',
    );
    results.print();
    console.log('');
    for (const line of cores) console.log(line);
    for (const hub of hubs) {
      const { ratio } = results.get(`http hello, hub-${hub}`, 2);
      console.log(`hub-${hub}: 2 processes with reusePort = ${ratio.toFixed(2)}x the req/s of 1 process`);
    }
  } catch (err) {
    console.error(err);
    killAll();
    process.exit(1);
  }
}
