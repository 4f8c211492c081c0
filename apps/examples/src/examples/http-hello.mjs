// An HTTP server with a fetch-style handler: it gets a WHATWG Request and
// returns a Response. Mirrors gevent's examples/wsgiserver.py ("Hello World").
//
// Run: node src/examples/http-hello.mjs          (GREENHUB_HUB=pure ... for hub-pure)
// It serves on 127.0.0.1 with a free port, queries itself with Node's fetch,
// prints what came back, stops and exits 0. Pass --serve to keep serving on
// port 8088 (try `curl http://127.0.0.1:8088/`; Ctrl-C stops it cleanly).
import { getHub, run } from '@greenhub/core';
import { Response, serve } from '@greenhub/net'; // greenhub's Response: a fast drop-in for the global one

function hello(request) {
  const { pathname } = new URL(request.url);
  if (pathname === '/')
    return new Response('<b>hello world</b>', { headers: { 'content-type': 'text/html' } });
  if (pathname === '/json') return Response.json({ hub: getHub().name, method: request.method });
  return new Response('<h1>Not Found</h1>', { status: 404, headers: { 'content-type': 'text/html' } });
}

await run(async function main() {
  const serving = process.argv.includes('--serve');
  const server = await serve({ port: serving ? 8088 : 0, fetch: hello });
  const base = `http://127.0.0.1:${server.address.port}`;
  console.log(`serving on ${base} (hub ${getHub().name})`);
  try {
    if (serving) return await server.serveForever();
    for (const path of ['/', '/json', '/missing']) {
      // Node's fetch is a promise greenhub does not know: give it a deadline of its own.
      const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(5000) });
      console.log(`GET ${path} -> ${res.status} ${res.headers.get('content-type')}: ${await res.text()}`);
    }
  } finally {
    await server.stop();
  }
});
