// The UDP benchmark (not a test: never in CI): echo of 64-byte datagrams from
// 1 and 50 client sockets, greenhub's DatagramServer on each hub against a
// `node:dgram` echo socket, measured in the same run; only the ratios mean
// anything across machines.
//
//   node bench/udp.mjs           the full run (about 1 minute), median of 3 runs each
//   node bench/udp.mjs --quick   a short smoke run: 1 run each, 2 s
//
// Each server (bench/udp-server.mjs) runs in a fresh process pinned to core 0;
// the load client is the C program of the TCP echo benches (bench/lib/client.c
// at the repo root, its `udp` mode: epoll, one process, connected sockets, one
// datagram in flight per socket, each reply checked), pinned to core 1. Runs
// of the contenders are interleaved. Loopback only; every process started
// here is killed on exit or failure. Needs `cc` and builds of core, sync, net
// and the hubs. No issue sets a target for it: it shows what gevent's
// handler-greenlet-per-datagram model costs against a bare Node socket.
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
const SOCKETS = [1, 50];
const WARMUP_MS = 500;
const RUN_MS = quick ? 1000 : 2000;
const HUBS = ['libev', 'pure'];
const LABELS = {
  node: 'node:dgram',
  libev: 'DatagramServer, hub-libev',
  pure: 'DatagramServer, hub-pure',
};

/** A fresh UDP echo server of `kind` (`node` or a hub), checked to run on that hub. */
function udpServer(kind) {
  const argv = [process.execPath, path.join(here, 'udp-server.mjs'), kind === 'node' ? 'node' : 'greenhub'];
  const env = kind === 'node' ? undefined : { GREENHUB_HUB: kind };
  return startContender(argv, { cpu: 0, cwd, env }, LABELS[kind], kind === 'node' ? 'node:dgram' : kind);
}

async function main() {
  const servers = ['node'];
  servers.push(...(await loadableHubs(HUBS)));
  const client = buildClient();
  const startedAt = new Date();
  const results = new Results();
  for (const sockets of SOCKETS) {
    // Each run: a fresh server, the load client's warm-up, then its measured window.
    const runs = await interleaved(servers, REPEATS, (kind) =>
      echoRun(client, () => udpServer(kind), sockets, { warmupMs: WARMUP_MS, runMs: RUN_MS, mode: 'udp' }),
    );
    results.add(
      `udp echo, 64 B, ${sockets} socket${sockets === 1 ? '' : 's'}`,
      'round trips/s',
      runs,
      'node',
      LABELS,
    );
  }

  console.log(`\n@greenhub/net UDP benchmark${quick ? ' (--quick)' : ''}: ${machine()}`);
  console.log(
    `started ${startedAt.toISOString()}, median of ${REPEATS} (min-max); 64-byte datagrams, one in flight per client` +
      ` socket, ${RUN_MS / 1000} s after a ${WARMUP_MS / 1000} s warm-up, per run`,
  );
  console.log(
    `server and load client (C, epoll) ${pinnable ? 'pinned to cores 0 and 1' : 'not pinned (no taskset or one core)'};` +
      ' ratio = median / baseline median (higher is better); server us/rt = server CPU time per round trip (median);' +
      ` ${BUSY_NOTE}\n`,
  );
  results.print();
}

main().catch((err) => {
  console.error(err);
  killAll();
  process.exit(1);
});
