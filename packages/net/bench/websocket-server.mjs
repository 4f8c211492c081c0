// One WebSocket echo server of the WebSocket benchmark, run in its own
// process by bench/websocket.mjs:
//
//   node websocket-server.mjs <node|greenhub>
//
// `greenhub` is `serve()` from @greenhub/net with a fetch handler calling
// `upgradeWebSocket()` and a greenlet per connection echoing each message,
// as a user writes it, on the hub GREENHUB_HUB names (the parent sets it).
// `node` is the baseline: the `ws` package's WebSocketServer on Node's
// `http.createServer`, echoing each message. Prints {"port":..,"hub":..} once listening.
import http from 'node:http';
import { announce, serveGreenhub } from '../../../bench/lib/echo-process.mjs';

const kind = process.argv[2];

if (kind === 'node') {
  const { WebSocketServer } = await import('ws');
  const server = http.createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => ws.terminate());
  });
  server.listen(0, '127.0.0.1', () => announce(server.address().port, { hub: 'node:ws' }));
} else {
  const { spawn } = await import('@greenhub/core');
  const { serve, upgradeWebSocket } = await import('@greenhub/net');
  await serveGreenhub(() =>
    serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch(request) {
        const { socket, response } = upgradeWebSocket(request);
        spawn(async () => {
          for await (const message of socket) await socket.send(message);
        });
        return response;
      },
    }),
  );
}
