// The greenhub demo (`npm start`): greenlets at work on the default hub.
//
// Ten crawlers fetch "pages" concurrently (simulated latency), a Timeout cuts
// the slow one short, a ticker greenlet is killed when the work is done, and
// a snapshot of every live greenlet is printed half way. Switch hubs with
// GREENHUB_HUB=pure npm start (or libev).
import {
  formatRunInfo,
  GreenletExit,
  getHub,
  joinall,
  run,
  sleep,
  spawn,
  Timeout,
  withTimeout,
} from '@greenhub/core';

async function crawl(site, latencyMs) {
  // withTimeout gives each crawl a 300 ms budget; the slow site falls back.
  return withTimeout(
    300,
    async () => {
      await sleep(latencyMs);
      return `${site}: ${Math.round(latencyMs)} ms`;
    },
    { fallback: `${site}: gave up after 300 ms` },
  );
}

async function ticker(started) {
  try {
    for (;;) {
      await sleep(100);
      console.log(`  tick ${Math.round(performance.now() - started)} ms`);
    }
  } catch (err) {
    if (err instanceof GreenletExit) console.log('  ticker: killed, cleaning up');
    throw err;
  }
}

await run(async function demo() {
  const hub = getHub();
  console.log(`greenhub demo on hub '${hub.name}' (backend ${hub.backend})`);
  console.log(`  try another hub: GREENHUB_HUB=${hub.name === 'pure' ? 'libev' : 'pure'} npm start\n`);

  const started = performance.now();
  const tick = spawn(ticker, started);
  tick.name = 'ticker';

  const sites = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];
  const crawlers = sites.map((site, i) => {
    const g = spawn(crawl, site, site === 'charlie' ? 2000 : 40 + i * 25);
    g.name = `crawl:${site}`;
    return g;
  });

  await sleep(120);
  console.log(`\nsnapshot after 120 ms:\n${formatRunInfo()}\n`);

  const done = await joinall(crawlers);
  console.log('results, in completion order:');
  for (const g of done) console.log(`  ${await g.get()}`);

  await tick.kill();
  console.log(`\nticker dead: ${tick.dead}, ended with ${tick.value?.name}`);

  // A Timeout interrupts whatever the greenlet waits on. (In TypeScript, or on
  // Node >= 24, `using deadline = Timeout.startNew(50)` closes it for you.)
  const deadline = Timeout.startNew(50);
  try {
    await sleep(1000);
  } catch (err) {
    if (err !== deadline) throw err;
    console.log(`a 1 s sleep was cut short: ${err.message}`);
  } finally {
    deadline.close();
  }
  console.log(
    `\ndone in ${Math.round(performance.now() - started)} ms; every greenlet ended, so the process exits by itself.`,
  );
});
