// Benchmarks (not tests): a TCP echo round trip and 100k timers on the libev
// hub, hub-pure and Node's own net/timers, measured in the same run. Prints
// ratios to Node; never gates anything on absolute times.
// Usage: node bench/run.mjs   (after `npm run build` here and in hub-pure)
import { createRequire } from 'node:module';
import net from 'node:net';

const require = createRequire(import.meta.url);
const ROUND_TRIPS = 20_000;
const TIMERS = 100_000;
const PAYLOAD = Buffer.alloc(64, 1);

function loadHub(name) {
  try {
    const mod = require(name);
    if (typeof mod.createHub !== 'function') return { why: 'no createHub export' };
    return { createHub: mod.createHub };
  } catch (err) {
    return { why: String(err.message).split('\n')[0] };
  }
}

function hubEcho(createHub) {
  return new Promise((resolve, reject) => {
    const hub = createHub();
    const listener = hub.listen({ host: '127.0.0.1', port: 0 });
    listener.start((s) => s.readStart((chunk) => (chunk ? s.write(chunk) : s.close())), reject);
    hub.connect({ host: '127.0.0.1', port: listener.address.port }, (err, client) => {
      if (err) return reject(err);
      let left = ROUND_TRIPS;
      let got = 0;
      const start = performance.now();
      client.readStart((chunk) => {
        if (!chunk) return;
        got += chunk.byteLength;
        if (got < PAYLOAD.length) return;
        got = 0;
        if (--left === 0) {
          const ms = performance.now() - start;
          client.close();
          listener.close();
          hub.close();
          resolve(ms);
        } else {
          client.write(PAYLOAD);
        }
      });
      client.write(PAYLOAD);
    });
  });
}

function nodeEcho() {
  return new Promise((resolve) => {
    const server = net.createServer((s) => s.on('data', (d) => s.write(d)));
    server.listen(0, '127.0.0.1', () => {
      const client = net.connect(server.address().port, '127.0.0.1', () => {
        client.setNoDelay(true);
        let left = ROUND_TRIPS;
        let got = 0;
        const start = performance.now();
        client.on('data', (d) => {
          got += d.length;
          if (got < PAYLOAD.length) return;
          got = 0;
          if (--left === 0) {
            const ms = performance.now() - start;
            client.destroy();
            server.close();
            resolve(ms);
          } else {
            client.write(PAYLOAD);
          }
        });
        client.write(PAYLOAD);
      });
    });
  });
}

function hubTimers(createHub) {
  return new Promise((resolve) => {
    const hub = createHub();
    let left = TIMERS;
    const start = performance.now();
    for (let i = 0; i < TIMERS; i++) {
      const t = hub.timer(i % 10);
      t.start(() => {
        if (--left === 0) {
          const ms = performance.now() - start;
          hub.close();
          resolve(ms);
        }
      });
    }
  });
}

function nodeTimers() {
  return new Promise((resolve) => {
    let left = TIMERS;
    const start = performance.now();
    for (let i = 0; i < TIMERS; i++) {
      setTimeout(() => {
        if (--left === 0) resolve(performance.now() - start);
      }, i % 10);
    }
  });
}

async function best(fn, runs = 3) {
  let min = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) min = Math.min(min, await fn());
  return min;
}

const hubs = { libev: loadHub('@greenhub/hub-libev'), pure: loadHub('@greenhub/hub-pure') };
const baseline = { echo: await best(nodeEcho), timers: await best(nodeTimers) };
const fmt = (ms) => `${ms.toFixed(1)} ms`;
console.log(`node:net echo ${ROUND_TRIPS} round trips: ${fmt(baseline.echo)} (baseline)`);
console.log(`node setTimeout x${TIMERS}: ${fmt(baseline.timers)} (baseline)`);
for (const [name, hub] of Object.entries(hubs)) {
  if (!hub.createHub) {
    console.log(`hub-${name}: skipped (${hub.why})`);
    continue;
  }
  const echo = await best(() => hubEcho(hub.createHub));
  const timers = await best(() => hubTimers(hub.createHub));
  console.log(`hub-${name} echo: ${fmt(echo)} = ${(echo / baseline.echo).toFixed(2)}x node:net`);
  console.log(
    `hub-${name} timers: ${fmt(timers)} = ${(timers / baseline.timers).toFixed(2)}x node setTimeout`,
  );
}
