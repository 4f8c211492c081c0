// One echo server of the benchmark, run in its own process by bench/run.mjs:
//
//   node echo-server.mjs <net|libev|pure> [HOLD]
//
// prints {"port":..} once listening. With HOLD, prints "held" once HOLD
// connections are accepted and reading (after a gc(), when --expose-gc is on),
// so that the parent can read the process's RSS. The hub servers are written
// directly on the hub contract: createHub, listen, readStart -> write back.
import net from 'node:net';

const [kind, holdArg] = process.argv.slice(2);
const hold = Number(holdArg ?? 0);
let accepted = 0;

function settleThenSay(line) {
  globalThis.gc?.();
  setTimeout(() => {
    globalThis.gc?.();
    process.stdout.write(`${line}\n`);
  }, 300);
}

function counted() {
  if (hold > 0 && ++accepted === hold) settleThenSay('held');
}

async function hubServer(pkg) {
  const { createHub } = await import(pkg);
  const hub = createHub();
  const listener = hub.listen({ host: '127.0.0.1', port: 0 });
  listener.start(
    (stream) => {
      stream.setNoDelay(true);
      stream.readStart((chunk) => (chunk ? stream.write(chunk) : stream.close()));
      counted();
    },
    (err) => console.error('accept failed', err),
  );
  return listener.address.port;
}

function netServer() {
  return new Promise((resolve) => {
    const server = net.createServer({ noDelay: true }, (socket) => {
      socket.on('data', (chunk) => socket.write(chunk));
      socket.on('error', () => socket.destroy());
      counted();
    });
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

const port =
  kind === 'net'
    ? await netServer()
    : await hubServer(kind === 'libev' ? '@greenhub/hub-libev' : '@greenhub/hub-pure');
globalThis.gc?.();
process.stdout.write(`${JSON.stringify({ port })}\n`);
// The parent ends this process with SIGTERM; a closed stdin ends it too.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
