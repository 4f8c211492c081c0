// The load client of the WebSocket benchmark, in its own process (pinned by
// the parent): `conns` connections made with the `ws` package, each sending
// a 64-byte binary message and the next one as soon as the echo is back.
//
//   node websocket-client.mjs <port> <conns> <warmupMs> <runMs>
//
// Counts the echoes received during the `runMs` after `warmupMs`, then prints
// {"rps": messages/s, "cpu": this process's CPU use (1 = a core)} and exits.
import { WebSocket } from 'ws';

const [port, conns, warmupMs, runMs] = process.argv.slice(2).map(Number);
const payload = Buffer.alloc(64, 0x61);
let counting = false;
let count = 0;

function open() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

const sockets = await Promise.all(Array.from({ length: conns }, open));
for (const ws of sockets) {
  ws.on('message', () => {
    if (counting) count++;
    ws.send(payload);
  });
  ws.on('error', (err) => {
    console.error(err);
    process.exit(1);
  });
  ws.send(payload);
}
await new Promise((r) => setTimeout(r, warmupMs));
const cpuFrom = process.cpuUsage();
const t0 = performance.now();
counting = true;
await new Promise((r) => setTimeout(r, runMs));
counting = false;
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpuFrom);
process.stdout.write(
  `${JSON.stringify({ rps: count / seconds, cpu: (cpu.user + cpu.system) / 1e6 / seconds })}\n`,
);
for (const ws of sockets) ws.terminate();
process.exit(0);
