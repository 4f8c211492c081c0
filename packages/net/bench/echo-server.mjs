// One echo server of the benchmark, run in its own process by bench/run.mjs:
//
//   node echo-server.mjs <net|greenhub> [HOLD]
//
// `greenhub` is a StreamServer written as a user would write it: run() from
// @greenhub/core, one handler greenlet per connection, on the hub that
// GREENHUB_HUB names (the parent sets it). `net` is the Node `net` baseline.
// Prints {"port":..,"hub":..} once listening. With HOLD, prints "held" once
// HOLD handlers are running, each blocked reading its socket (after a gc(),
// when --expose-gc is on), so that the parent can read the process's RSS.
import { announce, holdCounter, netEchoServer, serveGreenhub } from '../../../bench/lib/echo-process.mjs';

const [kind, holdArg] = process.argv.slice(2);
const counted = holdCounter(Number(holdArg ?? 0));

if (kind === 'net') {
  announce(await netEchoServer(counted), { hub: 'node:net' });
} else {
  const { StreamServer } = await import('@greenhub/net');
  await serveGreenhub(async () => {
    const server = new StreamServer({ host: '127.0.0.1', port: 0 }, async (sock) => {
      sock.setNoDelay();
      counted();
      try {
        for await (const chunk of sock) await sock.write(chunk);
      } catch (err) {
        // The load client exits with connections open, as node:net's 'error' handler ignores too.
        if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') throw err;
      }
    });
    await server.start();
    return server;
  });
}
