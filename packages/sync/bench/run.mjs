// Queue and Pool benchmarks: greenhub against plain promises, measured in the same run.
//
//   node bench/run.mjs            every available hub + the plain-Promise baselines
//   node bench/run.mjs --quick    smaller counts (a smoke run that keeps the bench from rotting)
//
// GREENHUB_SYNC_DIST=/path/to/module.js loads Queue and Pool from there instead of
// '@greenhub/sync' (to measure a build that is not the package's dist yet).
//
// Each workload runs in a fresh child process per contender (the baselines never
// load greenhub, so AsyncLocalStorage cannot slow them), three times; the median
// is reported with min-max, and the ratio greenhub / baseline is what counts.
// For reference, gevent's Queue does a hand-off in ~2.1 us on the machine this was written on.
import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = fileURLToPath(import.meta.url);
const quick = process.argv.includes('--quick');
const scale = quick ? 0.1 : 1;
const N = {
  handoff: Math.round(1_000_000 * scale),
  poolSpawn: Math.round(100_000 * scale),
  poolMap: Math.round(100_000 * scale),
};
const POOL_SIZE = 100;

// ---- workloads, run inside a child: node run.mjs --child <contender> <workload> ----------------------

async function childMain(contender, workload) {
  const isBaseline = contender.startsWith('baseline');
  if (contender === 'baseline-als') {
    // Node 20's AsyncLocalStorage (which greenlets need for getcurrent()) installs promise
    // hooks that tax every promise in the process: this baseline pays that tax too.
    const { AsyncLocalStorage } = await import('node:async_hooks');
    new AsyncLocalStorage().run(1, () => {});
  }
  let env;
  if (!isBaseline) {
    const core = await import('@greenhub/core');
    const dist = process.env.GREENHUB_SYNC_DIST;
    const sync = await import(dist ? pathToFileURL(dist).href : '@greenhub/sync');
    core.configure({ hub: contender });
    core.getHub();
    env = { ...core, Queue: sync.Queue, Pool: sync.Pool };
  }
  const fn = WORKLOADS[workload][isBaseline ? 'baseline' : 'greenhub'];
  await fn(env); // warm-up: let the JIT settle before the measured run
  const start = performance.now();
  await fn(env);
  const ms = performance.now() - start;
  process.stdout.write(JSON.stringify({ ms, hub: env?.getHub().name }));
  env?.resetHub();
}

const WORKLOADS = {
  handoff: {
    label: `Queue ping-pong ${N.handoff / 1000}k`,
    unit: N.handoff,
    // Two promise "queues" (a value slot with one waiting resolver), as in core's bench.
    baseline: async () => {
      const rounds = N.handoff / 2;
      const ab = promiseSlot();
      const ba = promiseSlot();
      const a = (async () => {
        for (let i = 0; i < rounds; i++) {
          ab.put(i);
          await ba.take();
        }
      })();
      const b = (async () => {
        for (let i = 0; i < rounds; i++) {
          await ab.take();
          ba.put(i);
        }
      })();
      await Promise.all([a, b]);
    },
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

function promiseSlot() {
  let resolve;
  let value;
  let full = false;
  return {
    put(v) {
      if (resolve) {
        const r = resolve;
        resolve = undefined;
        r(v);
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
      return new Promise((r) => {
        resolve = r;
      });
    },
  };
}

// ---- the parent: run every contender, print medians and ratios ----------------------------------------

function measure(contender, workload) {
  const out = execFileSync(
    process.execPath,
    [here, '--child', contender, workload, ...(quick ? ['--quick'] : [])],
    {
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, GREENHUB_HUB: contender.startsWith('baseline') ? '' : contender },
    },
  );
  return JSON.parse(out).ms;
}

function availableHubNames() {
  const out = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "import('@greenhub/core').then(c => process.stdout.write(JSON.stringify(c.availableHubs())))",
    ],
    { encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)) },
  );
  const hubs = JSON.parse(out);
  for (const h of hubs) if (!h.available) console.log(`(hub ${h.name} skipped: ${h.reason.split('\n')[0]})`);
  return hubs.filter((h) => h.available).map((h) => h.name);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function parentMain() {
  const hubs = availableHubNames();
  const repeats = quick ? 1 : 3;
  const rows = [];
  for (const [workload, spec] of Object.entries(WORKLOADS)) {
    const base = [];
    for (let r = 0; r < repeats; r++) base.push(measure('baseline', workload));
    const baseMs = median(base);
    const row = (contender, runs) => {
      const ms = median(runs);
      return {
        workload: spec.label,
        contender,
        ms,
        min: Math.min(...runs),
        max: Math.max(...runs),
        ratio: ms / baseMs,
        perOp: (ms * 1000) / spec.unit,
      };
    };
    rows.push(row('plain promises', base));
    const als = [];
    for (let r = 0; r < repeats; r++) als.push(measure('baseline-als', workload));
    rows.push(row('promises+ALS', als));
    for (const hub of hubs) {
      const runs = [];
      for (let r = 0; r < repeats; r++) runs.push(measure(hub, workload));
      const greenhub = row(`hub-${hub}`, runs);
      greenhub.alsRatio = greenhub.ms / median(als);
      rows.push(greenhub);
    }
  }
  console.log(
    `\nsync benchmarks (node ${process.version}, median of ${repeats}, each in a fresh process; lower is better)`,
  );
  console.log(
    'ratio = time / plain promises; vs ALS = time / plain promises with an AsyncLocalStorage active',
  );
  console.log('(gevent reference: ~2.1 us per Queue hand-off on the machine this bench was written on)\n');
  console.log(
    `${'workload'.padEnd(30)}${'contender'.padEnd(17)}${'median ms'.padStart(10)}${'min-max'.padStart(12)}${'us/op'.padStart(9)}${'ratio'.padStart(8)}${'vs ALS'.padStart(8)}`,
  );
  for (const r of rows) {
    console.log(
      `${r.workload.padEnd(30)}${r.contender.padEnd(17)}${r.ms.toFixed(1).padStart(10)}${`${r.min.toFixed(0)}-${r.max.toFixed(0)}`.padStart(12)}${r.perOp.toFixed(3).padStart(9)}${`${r.ratio.toFixed(2)}x`.padStart(8)}${(r.alsRatio ? `${r.alsRatio.toFixed(2)}x` : '').padStart(8)}`,
    );
  }
}

if (process.argv[2] === '--child') {
  await childMain(process.argv[3], process.argv[4]);
} else {
  await parentMain();
}
