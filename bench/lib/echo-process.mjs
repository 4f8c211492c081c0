// The parts every echo server process of the network benchmarks shares (see
// load-client.mjs for what the parent expects of one): the Node `net` echo
// server that is their baseline, the "held" report of idle-connection runs,
// and the {"port":..} line.
import net from 'node:net';

function settleThenSay(line) {
  globalThis.gc?.();
  setTimeout(() => {
    globalThis.gc?.();
    process.stdout.write(`${line}\n`);
    // Idle long enough for V8 to see a low allocation rate: the gc() after it gives back the young
    // generation the accept burst grew (kept until a GC sees the process idle).
    setTimeout(() => {
      globalThis.gc?.();
      process.stdout.write('settled\n');
    }, SETTLE_MS);
  }, 300);
}

/** How long an idle-connection run waits after "held" before its steady-state reading ("settled"). */
export const SETTLE_MS = 6000;

/**
 * Count connections for an idle-connection run.
 *
 * @param hold how many connections to wait for (0: none, never reports)
 * @returns a function to call once per connection; after the `hold`-th call it
 *   prints "held" 300 ms later (with a gc() before and after when --expose-gc
 *   is on), then "settled" after SETTLE_MS more of idleness and another gc().
 */
export function holdCounter(hold) {
  let accepted = 0;
  return () => {
    if (hold > 0 && ++accepted === hold) settleThenSay('held');
  };
}

/**
 * The baseline: an echo server on Node's `net`, listening on 127.0.0.1, no Nagle.
 *
 * @param onConnection called once per accepted connection
 * @returns the port
 */
export function netEchoServer(onConnection) {
  return new Promise((resolve) => {
    const server = net.createServer({ noDelay: true }, (socket) => {
      socket.on('data', (chunk) => socket.write(chunk));
      socket.on('error', () => socket.destroy());
      onConnection();
    });
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

/**
 * Tell the parent where the server listens: one JSON line `{ port, ...more }`
 * (after a gc(), so an idle run's RSS starts from a settled heap). The parent
 * ends the process with SIGTERM; a closed stdin ends it too.
 */
export function announce(port, more = {}) {
  globalThis.gc?.();
  process.stdout.write(`${JSON.stringify({ port, ...more })}\n`);
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

/**
 * Serve with greenhub: `start()` (inside core's `run()`, on the hub
 * GREENHUB_HUB names) returns a started greenhub server, which is announced
 * with the hub's name and served until the parent's SIGTERM kills main
 * (`serveForever()` then stops it). An error is printed and exits with 1.
 */
export async function serveGreenhub(start) {
  const { getHub, run } = await import('@greenhub/core');
  try {
    await run(async () => {
      const server = await start();
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
