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
import { announce, serveGreenhub } from '../../../bench/lib/echo-process.mjs';

const kind = process.argv[2];
const HELLO = 'Hello, world!';

if (kind === 'node') {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain;charset=UTF-8' });
    res.end(HELLO);
  });
  server.listen(0, '127.0.0.1', () => announce(server.address().port, { hub: 'node:http' }));
} else {
  const { Response, serve } = await import('@greenhub/net');
  await serveGreenhub(() => serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response(HELLO) }));
}
