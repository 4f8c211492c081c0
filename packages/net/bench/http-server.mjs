// One hello-world HTTP server of the HTTP benchmark, run in its own process
// by bench/http.mjs:
//
//   node http-server.mjs <node|greenhub>
//
// `greenhub` is `serve()` from @greenhub/net with a fetch-style handler, as
// a user writes it, on the hub GREENHUB_HUB names (the parent sets it).
// `node` is the baseline: Node's `http.createServer` doing the same.
// Both answer every request with "Hello, world!" as text/plain.
// Prints {"port":..,"hub":..} once listening.
import http from 'node:http';
import { announce } from '../../../bench/lib/echo-process.mjs';

const kind = process.argv[2];
const HELLO = 'Hello, world!';

if (kind === 'node') {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain;charset=UTF-8' });
    res.end(HELLO);
  });
  server.listen(0, '127.0.0.1', () => announce(server.address().port, { hub: 'node:http' }));
} else {
  const { getHub, run } = await import('@greenhub/core');
  const { Response, serve } = await import('@greenhub/net');
  try {
    // SIGTERM from the parent kills main: serveForever() stops the server, run() settles.
    await run(async () => {
      const server = await serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response(HELLO) });
      announce(server.address.port, { hub: getHub().name });
      await server.serveForever();
    });
  } catch (err) {
    console.error(err);
    process.exitCode = 1;
  } finally {
    process.exit(); // announce() keeps stdin open
  }
}
