// Queue and Pool benchmarks: greenhub against plain promises, measured in the same run.
//
//   node bench/run.mjs            every available hub + the plain-Promise baselines
//   node bench/run.mjs --quick    smaller counts (a smoke run that keeps the bench from rotting)
//   --with gevent,eventlet        the Queue ping-pong on gevent/eventlet too (bench/python/workloads.py)
//   --json FILE                   also write the rows as JSON (the root's bench/run.mjs merges them)
//
// GREENHUB_SYNC_DIST=/path/to/module.js loads Queue and Pool from there instead of
// '@greenhub/sync' (to measure a build that is not the package's dist yet).
//
// bench/lib/promise-baseline.mjs at the root runs each workload in a fresh
// process per contender and prints the ratios.
// For reference, gevent's Queue does a hand-off in ~2.1 us on the machine this was written on.

import { pathToFileURL } from 'node:url';
import { promisePingPong, quick, runPromiseComparison } from '../../../bench/lib/promise-baseline.mjs';

const scale = quick ? 0.1 : 1;
const N = {
  handoff: Math.round(1_000_000 * scale),
  poolSpawn: Math.round(100_000 * scale),
  semaphore: Math.round(1_000_000 * scale),
  poolMap: Math.round(100_000 * scale),
};
const POOL_SIZE = 100;

const WORKLOADS = {
  handoff: {
    label: `Queue ping-pong ${N.handoff / 1000}k`,
    unit: N.handoff,
    python: 'queue',
    baseline: () => promisePingPong(N.handoff),
    greenhub: async ({ spawn, joinall, Queue }) => {
      const rounds = N.handoff / 2;
      const ab = new Queue();
      const ba = new Queue();
      const a = spawn(async () => {
        for (let i = 0; i < rounds; i++) {
          await ab.put(i);
          await ba.get();
        }
      });
      const b = spawn(async () => {
        for (let i = 0; i < rounds; i++) {
          await ba.put(await ab.get());
        }
      });
      await joinall([a, b], { raiseError: true });
    },
  },
  semaphore: {
    label: `uncontended Semaphore ${N.semaphore / 1000}k`,
    unit: N.semaphore,
    // Uncontended: the baseline is the cheapest async mutex, a flag and an awaited resolved promise.
    baseline: async () => {
      let held = false;
      const acquire = async () => {
        held = true;
      };
      for (let i = 0; i < N.semaphore; i++) {
        await acquire();
        held = !held;
      }
    },
    greenhub: async ({ Semaphore }) => {
      const sem = new Semaphore(1);
      for (let i = 0; i < N.semaphore; i++) {
        await sem.acquire();
        sem.release();
      }
    },
  },
  poolSpawn: {
    label: `Pool(${POOL_SIZE}).spawn ${N.poolSpawn / 1000}k`,
    unit: N.poolSpawn,
    // A promise limiter: start a task when fewer than POOL_SIZE run, else wait for one to end.
    baseline: async () => {
      let running = 0;
      let wake;
      const all = [];
      for (let i = 0; i < N.poolSpawn; i++) {
        while (running >= POOL_SIZE) await new Promise((r) => (wake = r));
        running++;
        all.push(
          (async (n) => n)(i).then(() => {
            running--;
            wake?.();
          }),
        );
      }
      await Promise.all(all);
    },
    greenhub: async ({ Pool }) => {
      const pool = new Pool(POOL_SIZE);
      for (let i = 0; i < N.poolSpawn; i++) await pool.spawn(async (n) => n, i);
      await pool.join();
    },
  },
  poolMap: {
    label: `Pool(${POOL_SIZE}).map ${N.poolMap / 1000}k`,
    unit: N.poolMap,
    // POOL_SIZE async workers pulling the next index: the usual promise-pool map.
    baseline: async () => {
      const items = Array.from({ length: N.poolMap }, (_, i) => i);
      const results = new Array(items.length);
      let next = 0;
      const worker = async () => {
        while (next < items.length) {
          const i = next++;
          results[i] = await (async (n) => n * 2)(items[i]);
        }
      };
      await Promise.all(Array.from({ length: POOL_SIZE }, worker));
      if (results[items.length - 1] !== (items.length - 1) * 2) throw new Error('wrong result');
    },
    greenhub: async ({ Pool }) => {
      const items = Array.from({ length: N.poolMap }, (_, i) => i);
      const results = await new Pool(POOL_SIZE).map(async (n) => n * 2, items);
      if (results[items.length - 1] !== (items.length - 1) * 2) throw new Error('wrong result');
    },
  },
};

await runPromiseComparison({
  file: import.meta.url,
  title: 'sync benchmarks',
  notes: ['(gevent reference: ~2.1 us per Queue hand-off on the machine this bench was written on)'],
  workloads: WORKLOADS,
  loadGreenhub: async () => {
    const dist = process.env.GREENHUB_SYNC_DIST;
    const sync = await import(dist ? pathToFileURL(dist).href : '@greenhub/sync');
    return { Queue: sync.Queue, Pool: sync.Pool, Semaphore: sync.Semaphore };
  },
});
