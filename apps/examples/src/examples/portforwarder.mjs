// A port forwarder: a StreamServer that connects each client to a target and
// pipes bytes both ways with two greenlets. Mirrors gevent's
// examples/portforwarder.py.
//
// Run: node src/examples/portforwarder.mjs       (GREENHUB_HUB=pure ... for hub-pure)
// It starts a local target (an upper-casing echo server), the forwarder in
// front of it, sends a few lines through the forwarder, stops both and exits 0.
import { getHub, joinall, run, spawn } from '@greenhub/core';
import { connect, StreamServer } from '@greenhub/net';

async function pipe(from, to) {
  for await (const chunk of from) await to.write(chunk);
  await to.end(); // pass the half-close on
}

function forwarder(targetPort) {
  return async (client, address) => {
    const target = await connect({ port: targetPort, timeout: 2000 });
    console.log(`forwarder: ${address.address}:${address.port} -> 127.0.0.1:${targetPort}`);
    try {
      await joinall([spawn(pipe, client, target), spawn(pipe, target, client)], { raiseError: true });
    } finally {
      target.close();
    }
  };
}

await run(async function main() {
  const target = new StreamServer({ port: 0 }, async (sock) => {
    for (let line; (line = await sock.readLine()) !== null; ) await sock.write(`${line.toUpperCase()}\n`);
  });
  await target.start();
  const proxy = new StreamServer({ port: 0 }, forwarder(target.address.port));
  await proxy.start();
  console.log(`hub ${getHub().name}: target on ${target.address.port}, forwarder on ${proxy.address.port}`);
  try {
    const sock = await connect({ port: proxy.address.port, timeout: 2000 });
    sock.timeout = 2000;
    for (const line of ['hello through the forwarder', 'second line']) {
      await sock.write(`${line}\n`);
      console.log(`client got: ${await sock.readLine()}`);
    }
    await sock.end(); // the target sees end of stream, ends too, and the forwarder closes
    console.log(`client: end of stream after end(): ${(await sock.read()) === null}`);
    sock.close();
  } finally {
    await proxy.stop();
    await target.stop();
  }
});
