// Core benchmarks: greenlets against plain promises, measured in the same run.
//
//   node bench/run.mjs            every available hub + the plain-Promise baseline
//   node bench/run.mjs --quick    smaller counts (a smoke run that keeps the bench from rotting)
//
// Each workload runs in a fresh child process per contender (the baseline never
// loads greenhub, so AsyncLocalStorage cannot slow it), three times; the median
// is reported with min-max, and the ratio greenhub / baseline is what counts.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
const quick = process.argv.includes('--quick');
const scale = quick ? 0.1 : 1;
const N = {
  spawn: Math.round(100_000 * scale),
  handoff: Math.round(1_000_000 * scale),
  timers: Math.round(100_000 * scale),
};

// ---- workloads, run inside a child: node run.mjs --child <contender> <workload> ----------------------

async function childMain(contender, workload) {
  const isBaseline = contender.startsWith('baseline');
  if (contender === 'baseline-als') {
    // Node 20's AsyncLocalStorage (which greenlets need for getcurrent()) installs promise
    // hooks that tax every promise in the process: this baseline pays that tax too.
    const { AsyncLocalStorage } = await import('node:async_hooks');
    new AsyncLocalStorage().run(1, () => {});
  }
  const core = isBaseline ? undefined : await import('@greenhub/core');
  if (core) {
    core.configure({ hub: contender });
    core.getHub();
  }
  const fn = WORKLOADS[workload][isBaseline ? 'baseline' : 'greenhub'];
  await fn(core); // warm-up: let the JIT settle before the measured run
  const start = performance.now();
  await fn(core);
  const ms = performance.now() - start;
  process.stdout.write(JSON.stringify({ ms, hub: core?.getHub().name }));
  core?.resetHub();
}

const WORKLOADS = {
  spawn: {
    label: `spawn+join ${N.spawn / 1000}k`,
    unit: N.spawn,
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
    label: `ping-pong ${N.handoff / 1000}k hand-offs`,
    unit: N.handoff,
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

// ---- the parent: run every contender, print medians and ratios ----------------------------------------

function measure(contender, workload) {
  const out = execFileSync(
    process.execPath,
    [here, '--child', contender, workload, ...(quick ? ['--quick'] : [])],
    {
      encoding: 'utf8',
      timeout: 120_000,
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
    `\ncore benchmarks (node ${process.version}, median of ${repeats}, each in a fresh process; lower is better)`,
  );
  console.log(
    'ratio = time / plain promises; vs ALS = time / plain promises with an AsyncLocalStorage active\n',
  );
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
