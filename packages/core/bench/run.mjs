// Core benchmarks: greenlets against plain promises, measured in the same run.
//
//   node bench/run.mjs            every available hub + the plain-Promise baseline
//   node bench/run.mjs --quick    smaller counts (a smoke run that keeps the bench from rotting)
//   --with gevent,eventlet        spawn and timers on gevent/eventlet too (bench/python/workloads.py)
//   --json FILE                   also write the rows as JSON (the root's bench/run.mjs merges them)
//
// bench/lib/promise-baseline.mjs at the root runs each workload in a fresh
// process per contender and prints the ratios.

import { promisePingPong, quick, runPromiseComparison } from '../../../bench/lib/promise-baseline.mjs';

const scale = quick ? 0.1 : 1;
const N = {
  spawn: Math.round(100_000 * scale),
  handoff: Math.round(1_000_000 * scale),
  timers: Math.round(100_000 * scale),
};

const WORKLOADS = {
  spawn: {
    label: `spawn+join ${N.spawn / 1000}k`,
    unit: N.spawn,
    python: 'spawn',
    baseline: async () => {
      const tasks = new Array(N.spawn);
      for (let i = 0; i < N.spawn; i++) tasks[i] = (async (n) => n)(i);
      await Promise.all(tasks);
    },
    greenhub: async ({ spawn, joinall }) => {
      const gs = new Array(N.spawn);
      for (let i = 0; i < N.spawn; i++) gs[i] = spawn(async (n) => n, i);
      await joinall(gs);
    },
  },
  handoff: {
    label: `Waiter ping-pong ${N.handoff / 1000}k`,
    unit: N.handoff,
    baseline: () => promisePingPong(N.handoff),
    greenhub: async ({ spawn, joinall, Waiter }) => {
      const rounds = N.handoff / 2;
      const ab = waiterSlot(Waiter);
      const ba = waiterSlot(Waiter);
      const a = spawn(async () => {
        for (let i = 0; i < rounds; i++) {
          ab.put(i);
          await ba.take();
        }
      });
      const b = spawn(async () => {
        for (let i = 0; i < rounds; i++) {
          await ab.take();
          ba.put(i);
        }
      });
      await joinall([a, b], { raiseError: true });
    },
  },
  timers: {
    label: `${N.timers / 1000}k timers (0-9 ms)`,
    unit: N.timers,
    python: 'timers',
    baseline: async () => {
      const all = new Array(N.timers);
      for (let i = 0; i < N.timers; i++) all[i] = new Promise((resolve) => setTimeout(resolve, i % 10));
      await Promise.all(all);
    },
    greenhub: async ({ sleep }) => {
      const all = new Array(N.timers);
      for (let i = 0; i < N.timers; i++) all[i] = sleep(i % 10);
      await Promise.all(all);
    },
  },
};

function waiterSlot(Waiter) {
  let waiter;
  let value;
  let full = false;
  return {
    put(v) {
      if (waiter) {
        const w = waiter;
        waiter = undefined;
        w.switch(v);
      } else {
        value = v;
        full = true;
      }
    },
    take() {
      if (full) {
        full = false;
        return Promise.resolve(value);
      }
      waiter = new Waiter('slot');
      return waiter.get();
    },
  };
}

await runPromiseComparison({
  file: import.meta.url,
  title: 'core benchmarks',
  workloads: WORKLOADS,
});
