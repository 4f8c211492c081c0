// A TCP echo server (StreamServer, one greenlet per connection) and three
// clients talking to it at once. Mirrors gevent's examples/echoserver.py.
//
// Run: node src/examples/echoserver.mjs          (GREENHUB_HUB=pure ... for hub-pure)
// It listens on 127.0.0.1 with a free port, runs its clients, stops the
// server and exits 0. Pass --serve to keep serving on port 16000 instead
// (try `nc 127.0.0.1 16000`; Ctrl-C stops it cleanly).
import { getHub, joinall, run, spawn } from '@greenhub/core';
import { connect, StreamServer } from '@greenhub/net';

async function echo(socket, address) {
  console.log(`server: new connection from ${address.address}:${address.port}`);
  await socket.write('Welcome to the echo server! Type quit to exit.\n');
  for (let line; (line = await socket.readLine()) !== null; ) {
    if (line.trim().toLowerCase() === 'quit') break;
    await socket.write(`${line}\n`);
  }
  console.log(`server: ${address.address}:${address.port} left`);
}

async function client(port, name) {
  const sock = await connect({ port, timeout: 2000 });
  try {
    sock.timeout = 2000; // per read/write, like gevent's settimeout()
    await sock.readLine(); // the welcome line
    const replies = [];
    for (const word of ['hello', 'from', name]) {
      await sock.write(`${word}\n`);
      replies.push(await sock.readLine());
    }
    await sock.write('quit\n');
    return replies.join(' ');
  } finally {
    sock.close();
  }
}

await run(async function main() {
  const serving = process.argv.includes('--serve');
  const server = new StreamServer({ host: '127.0.0.1', port: serving ? 16000 : 0 }, echo);
  await server.start();
  console.log(`echo server on hub ${getHub().name}, port ${server.address.port}`);
  try {
    if (serving) return await server.serveForever();
    const clients = ['alice', 'bob', 'carol'].map((name) => spawn(client, server.address.port, name));
    await joinall(clients, { raiseError: true });
    for (const g of clients) console.log(`client got back: ${await g.get()}`);
  } finally {
    await server.stop(); // no greenlet and no socket is left, so the process exits by itself
  }
});
