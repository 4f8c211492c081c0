// A UDP echo server (DatagramServer, one greenlet per datagram) and a UDP
// client. Mirrors gevent's examples/udp_server.py and examples/udp_client.py.
//
// Run: node src/examples/udp.mjs                  (GREENHUB_HUB=pure ... for hub-pure)
// It binds the server on 127.0.0.1 with a free port, sends it three
// datagrams, prints the replies, stops the server and exits 0.
import { getHub, run } from '@greenhub/core';
import { DatagramServer, udp } from '@greenhub/net';

async function echo(data, from, server) {
  const text = Buffer.from(data).toString();
  console.log(`server: ${from.address}:${from.port} sent "${text}"`);
  await server.sendTo(`echo: ${text}`, from.port, from.address);
}

await run(async function main() {
  const server = new DatagramServer({ host: '127.0.0.1', port: 0 }, echo);
  await server.start();
  console.log(`UDP echo server on 127.0.0.1:${server.address.port} (hub ${getHub().name})`);
  const client = udp();
  try {
    for (const message of ['ping', 'hello', 'bye']) {
      await client.sendTo(message, server.address.port, '127.0.0.1');
      // UDP may lose datagrams: never wait for a reply without a timeout.
      const { data, address } = await client.recvFrom({ timeout: 2000 });
      console.log(`client: got "${Buffer.from(data).toString()}" from port ${address.port}`);
    }
  } finally {
    client.close();
    await server.stop();
  }
});
