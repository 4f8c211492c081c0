// The WebSocket benchmark of issue 9 (not a test: never in CI): echo of
// 64-byte messages over 50 connections, greenhub's upgradeWebSocket() on
// HttpServer against the `ws` package on Node's `http`, measured in the same
// run; only the ratios mean anything across machines.
//
//   node bench/websocket.mjs           the full run (about 1 minute), median of 3 runs each
//   node bench/websocket.mjs --quick   a short smoke run: 1 run each, 2 s
//
// Each server (bench/websocket-server.mjs) runs in a fresh process pinned to
// core 0; the load client is the C program of the TCP echo benches
// (bench/lib/client.c at the repo root, its `ws` mode: epoll, one process,
// masked frames, one message in flight per connection), pinned to core 1. It
// takes a small share of its core, so messages/s are bounded by the server
// (a Node client with `ws` used about all of its core and capped them).
// Runs of the contenders are interleaved. Loopback only; every process
// started here is killed on exit or failure. Needs `cc` and builds of core,
// sync, net and the hubs.
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
import { buildClient, echoRun, startContender } from '../../../bench/lib/load-client.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const cwd = path.join(here, '..');
const CONNS = 50;
const WARMUP_MS = 1000;
const RUN_MS = quick ? 2000 : 5000;
const HUBS = ['libev', 'pure'];
/** hub → the least messages/s, as a multiple of ws's, that meets issue 9's target. */
const TARGET = { libev: 1.2 };
const LABELS = {
  node: 'ws on node:http',
  libev: 'upgradeWebSocket, hub-libev',
  pure: 'upgradeWebSocket, hub-pure',
};

/** A fresh WebSocket echo server of `kind` (`node` or a hub), checked to run on that hub. */
function wsServer(kind) {
  const argv = [
    process.execPath,
    path.join(here, 'websocket-server.mjs'),
    kind === 'node' ? 'node' : 'greenhub',
  ];
  const env = kind === 'node' ? undefined : { GREENHUB_HUB: kind };
  return startContender(argv, { cpu: 0, cwd, env }, LABELS[kind], kind === 'node' ? 'node:ws' : kind);
}

async function main() {
  const servers = ['node'];
  servers.push(...(await loadableHubs(HUBS)));
  const client = buildClient();
  const startedAt = new Date();
  // Each run: a fresh server, the load client's warm-up, then its measured window.
  const runs = await interleaved(servers, REPEATS, (kind) =>
    echoRun(client, () => wsServer(kind), CONNS, { warmupMs: WARMUP_MS, runMs: RUN_MS, mode: 'ws' }),
  );
  const results = new Results();
  results.add(`ws echo, 64 B, ${CONNS} conns`, 'msg/s', runs, 'node', LABELS);

  console.log(`\n@greenhub/net WebSocket benchmark${quick ? ' (--quick)' : ''}: ${machine()}`);
  console.log(
    `started ${startedAt.toISOString()}, median of ${REPEATS} (min-max); ${CONNS} connections of 64-byte binary` +
      ` echo, one message in flight each, ${RUN_MS / 1000} s after a ${WARMUP_MS / 1000} s warm-up, per run`,
  );
  console.log(
    `server and load client (C, epoll) ${pinnable ? 'pinned to cores 0 and 1' : 'not pinned (no taskset or one core)'};` +
      ' ratio = median / baseline median (higher is better); server us/rt = server CPU time per message (median);' +
      ` ${BUSY_NOTE}\n`,
  );
  results.print();
  console.log('');
  for (const kind of servers.filter((k) => k !== 'node')) {
    const { ratio } = results.get(`ws echo, 64 B, ${CONNS} conns`, kind);
    const goal = TARGET[kind];
    console.log(
      `hub-${kind}: ${ratio.toFixed(2)}x ws messages/s` +
        (goal === undefined
          ? ' (no target)'
          : ` (target >= ${goal.toFixed(2)}x: ${ratio >= goal ? 'met' : 'MISSED'})`),
    );
  }
}

main().catch((err) => {
  console.error(err);
  killAll();
  process.exit(1);
});
