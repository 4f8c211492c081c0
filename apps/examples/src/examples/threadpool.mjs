// CPU-bound work on a ThreadPool (worker threads) while a ticker greenlet keeps
// running on the hub: the hub is never blocked. Mirrors gevent's
// examples/threadpool.py.
//
// Run: node src/examples/threadpool.mjs           (GREENHUB_HUB=pure ... for hub-pure)
// It runs four fib(34) tasks on two worker threads (src/examples/threadpool-worker.mjs),
// counts the ticker's ticks meanwhile, then does the same work once on the hub's
// own thread, where the ticker cannot tick at all. Exits 0.
import { getHub, run, sleep, spawn } from '@greenhub/core';
import { ThreadPool } from '@greenhub/sync';
import { fib } from './threadpool-worker.mjs';

await run(async function main() {
  let ticks = 0;
  const ticker = spawn(async () => {
    for (;;) {
      await sleep(20);
      ticks += 1;
    }
  });
  const threads = new ThreadPool({ filename: new URL('./threadpool-worker.mjs', import.meta.url), size: 2 });
  try {
    console.log(`hub ${getHub().name}: 4 x fib(34) on a ThreadPool of 2 workers`);
    let t0 = performance.now();
    const results = await Promise.all([34, 34, 34, 34].map((n) => threads.run('fib', n)));
    console.log(`thread pool: ${results.join(', ')} in ${Math.round(performance.now() - t0)} ms`);
    console.log(`ticks while the workers computed: ${ticks}`);

    const before = ticks;
    t0 = performance.now();
    const inline = fib(34); // on the hub's thread: no greenlet can run until it returns
    console.log(`on the hub thread: ${inline} in ${Math.round(performance.now() - t0)} ms`);
    console.log(`ticks while the hub thread computed: ${ticks - before}`);
  } finally {
    await ticker.kill();
    await threads.destroy();
  }
});
