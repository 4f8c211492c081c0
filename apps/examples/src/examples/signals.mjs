// Handle a Unix signal in a greenlet: signalHandler runs a function in a new
// greenlet on each delivery. Mirrors gevent.signal_handler (gevent's examples
// directory has no signal file; this follows the gevent.signal_handler docs).
//
// Run: node src/examples/signals.mjs              (GREENHUB_HUB=pure ... for hub-pure)
// The example sends itself SIGUSR1 three times; each delivery runs a handler
// greenlet that reports back through a Queue. Then it cancels the handler and
// exits 0. (SIGINT / SIGTERM belong to run(): they stop main cleanly, exit 130 / 143.)
import { getcurrent, getHub, run, signalHandler, sleep } from '@greenhub/core';
import { Queue } from '@greenhub/sync';

await run(async function main() {
  console.log(`hub ${getHub().name}, pid ${process.pid}`);
  const handled = new Queue();
  let deliveries = 0;
  const handler = signalHandler('SIGUSR1', async () => {
    deliveries += 1;
    const me = getcurrent().name;
    await sleep(5); // a handler is a greenlet: it may wait like any other
    await handled.put(`SIGUSR1 #${deliveries} handled in greenlet ${me}`);
  });
  try {
    for (let i = 1; i <= 3; i++) {
      console.log(`sending SIGUSR1 #${i}`);
      process.kill(process.pid, 'SIGUSR1');
      console.log(await handled.get({ timeout: 5000 }));
    }
  } finally {
    handler.cancel(); // stop watching SIGUSR1 (a watcher alone does not keep the process alive)
  }
  console.log('handler cancelled; exiting');
});
