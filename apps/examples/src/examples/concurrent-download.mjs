// Download many URLs concurrently with a Pool of N greenlets, each download
// under its own Timeout. Mirrors gevent's examples/concurrent_download.py
// (with a Pool, as its docs suggest, to bound the concurrency).
//
// Run: node src/examples/concurrent-download.mjs  (GREENHUB_HUB=pure ... for hub-pure)
// Loopback only: it starts a local HttpServer whose pages take 200 ms each
// (one takes 3 s and is cut short by its 500 ms Timeout), downloads 8 + 1
// pages with 4 greenlets, prints the timings, stops the server and exits 0.
import { getHub, run, sleep, Timeout } from '@greenhub/core';
import { Response, serve } from '@greenhub/net';
import { Pool } from '@greenhub/sync';

const POOL_SIZE = 4;
const PAGE_MS = 200;
let inFlight = 0;
let maxInFlight = 0;

async function page(request) {
  const ms = new URL(request.url).pathname === '/slow' ? 3000 : PAGE_MS;
  inFlight += 1;
  maxInFlight = Math.max(maxInFlight, inFlight);
  try {
    // Ends early (rejecting with the signal's AbortError) if the client gives up: the server
    // then drops the request quietly; its access log would show it as 499.
    await sleep(ms, { signal: request.signal });
    return new Response(`page ${new URL(request.url).pathname} after ${ms} ms`);
  } finally {
    inFlight -= 1;
  }
}

await run(async function main() {
  const server = await serve({ port: 0, fetch: page });
  const base = `http://127.0.0.1:${server.address.port}`;
  const urls = [...Array.from({ length: 8 }, (_, i) => `${base}/page${i + 1}`), `${base}/slow`];
  const t0 = performance.now();
  const at = () => Math.round(performance.now() - t0);

  async function download(url) {
    const timeout = Timeout.startNew(500);
    try {
      // fetch is not a greenhub wait: hand it the Timeout's signal so the deadline reaches it.
      const res = await fetch(url, { signal: timeout.signal });
      return `${at()} ms: ${url.slice(base.length)} -> ${res.status} "${await res.text()}"`;
    } catch (err) {
      if (!timeout.signal.aborted) throw err;
      return `${at()} ms: ${url.slice(base.length)} -> timed out after 500 ms`;
    } finally {
      timeout.close();
    }
  }

  console.log(
    `hub ${getHub().name}: ${urls.length} downloads, ${POOL_SIZE} at a time, ${PAGE_MS} ms per page`,
  );
  try {
    const pool = new Pool(POOL_SIZE);
    for await (const line of pool.imapUnordered(download, urls)) console.log(`  ${line}`);
    const total = at();
    console.log(`all done in ${total} ms (one after the other: at least ${8 * PAGE_MS + 500} ms)`);
    console.log(`most requests in flight at once on the server: ${maxInFlight}`);
  } finally {
    await server.stop();
  }
});
