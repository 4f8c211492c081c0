// One UDP echo server of the UDP benchmark, run in its own process by
// bench/udp.mjs:
//
//   node udp-server.mjs <node|greenhub>
//
// `greenhub` is a DatagramServer as a user writes it (gevent's model: a
// handler greenlet per datagram, replying with `server.sendTo()`), on the hub
// GREENHUB_HUB names (the parent sets it). `node` is the baseline: a
// `node:dgram` socket whose 'message' listener sends each datagram back.
// Prints {"port":..,"hub":..} once bound.
import dgram from 'node:dgram';
import { announce, serveGreenhub } from '../../../bench/lib/echo-process.mjs';

const kind = process.argv[2];

if (kind === 'node') {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, from) => socket.send(msg, from.port, from.address));
  socket.bind(0, '127.0.0.1', () => announce(socket.address().port, { hub: 'node:dgram' }));
} else {
  const { DatagramServer } = await import('@greenhub/net');
  await serveGreenhub(async () => {
    const server = new DatagramServer({ host: '127.0.0.1', port: 0 }, (data, from, srv) =>
      srv.sendTo(data, from.port, from.address),
    );
    await server.start();
    return server;
  });
}
