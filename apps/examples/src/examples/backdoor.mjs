// A BackdoorServer: a JavaScript REPL inside the running process, over TCP on
// loopback — to inspect a live server. Mirrors gevent.backdoor
// (`python -m gevent.backdoor 9999`).
//
// Run: node src/examples/backdoor.mjs             (GREENHUB_HUB=pure ... for hub-pure)
// It starts the backdoor on 127.0.0.1 with a free port, connects to it itself,
// evaluates a few expressions (one reads a local of the app, one awaits a
// greenhub sleep), prints the replies, stops and exits 0. Pass --serve to keep
// it open on port 9999 instead (`nc 127.0.0.1 9999`; Ctrl-C stops it).
// No authentication: whoever connects runs code in the process. Loopback only.
import { getHub, run } from '@greenhub/core';
import { BACKDOOR_PROMPT, BackdoorServer, connect } from '@greenhub/net';

const app = { started: new Date().toISOString(), requests: 42 };

const inputs = [
  '1 + 2',
  'app.requests * 2',
  'await sleep(10); getcurrent().name',
  "formatRunInfo().split('\\n')[0]",
];

/** Read what the REPL prints until its next prompt. */
async function untilPrompt(sock) {
  const bytes = await sock.readUntil(BACKDOOR_PROMPT);
  return Buffer.from(bytes).toString().slice(0, -BACKDOOR_PROMPT.length).trim();
}

await run(async function main() {
  const serving = process.argv.includes('--serve');
  const backdoor = new BackdoorServer({ port: serving ? 9999 : 0 }, { locals: { app } });
  await backdoor.start();
  console.log(`backdoor on 127.0.0.1:${backdoor.address.port} (hub ${getHub().name})`);
  try {
    if (serving) return await backdoor.serveForever();
    const sock = await connect({ port: backdoor.address.port, timeout: 2000 });
    sock.timeout = 5000;
    try {
      console.log(`banner: ${(await untilPrompt(sock)).split('\n')[0]}`);
      for (const input of inputs) {
        await sock.write(`${input}\n`);
        console.log(`>>> ${input}\n${await untilPrompt(sock)}`);
      }
      await sock.write('.exit\n');
    } finally {
      sock.close();
    }
  } finally {
    await backdoor.stop();
  }
});
