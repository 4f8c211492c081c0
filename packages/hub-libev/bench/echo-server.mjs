// One echo server of the benchmark, run in its own process by bench/run.mjs:
//
//   node echo-server.mjs <net|libev|pure> [HOLD]
//
// prints {"port":..} once listening. With HOLD, prints "held" once HOLD
// connections are accepted and reading (after a gc(), when --expose-gc is on),
// so that the parent can read the process's RSS. The hub servers are written
// directly on the hub contract: createHub, listen, readStart -> write back.
import { announce, holdCounter, netEchoServer } from '../../../bench/lib/echo-process.mjs';

const [kind, holdArg] = process.argv.slice(2);
const counted = holdCounter(Number(holdArg ?? 0));

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

const port =
  kind === 'net'
    ? await netEchoServer(counted)
    : await hubServer(kind === 'libev' ? '@greenhub/hub-libev' : '@greenhub/hub-pure');
announce(port);
