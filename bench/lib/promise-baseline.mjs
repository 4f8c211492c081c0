// The harness behind the "greenhub against plain promises" benchmarks of core
// and sync. A benchmark file describes its workloads and calls
// runPromiseComparison(); this module runs each workload in a fresh child
// process per contender (the baselines never load greenhub, so
// its promise hooks cannot slow them), repeats it, and prints medians with
// min-max and the ratios that count:
//   ratio  = time / plain promises
//   vs ALS = time / plain promises with an AsyncLocalStorage active: Node's own
//            way to follow a context across awaits, whose promise hooks tax
//            every promise in the process on Node 20 (greenhub follows the
//            current greenlet with lighter promise hooks of its own)
//
// Workloads: { [key]: { label, unit, baseline(), greenhub(env), python? } } where
// env is core's exports plus whatever loadGreenhub() adds, and python names the
// same workload in bench/python/workloads.py, run for gevent and eventlet when
// the bench is started with --with gevent,eventlet (see args.mjs).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { quick, REPEATS, writeJsonRows } from './args.mjs';
import { BUSY_NOTE, BUSY_SHARE, machineBusy } from './busy.mjs';
import { isPython, pythonArgv, pythonContenders } from './python.mjs';

export { quick };

/**
 * Run the benchmark: the parent measures every contender, a child (started by
 * the parent with --child) runs one workload once warmed up.
 *
 * @param opts.file the benchmark file's import.meta.url
 * @param opts.title first words of the table's heading
 * @param opts.notes extra lines printed under the heading
 * @param opts.workloads see above
 * @param opts.loadGreenhub async (core) => env for greenhub workloads (default: core itself)
 */
export async function runPromiseComparison({ file, title, notes = [], workloads, loadGreenhub }) {
  if (process.argv[2] === '--child') {
    await childMain(workloads, loadGreenhub, process.argv[3], process.argv[4]);
  } else {
    parentMain(fileURLToPath(file), title, notes, workloads);
  }
}

async function childMain(workloads, loadGreenhub, contender, workload) {
  const isBaseline = contender.startsWith('baseline');
  if (contender === 'baseline-als') {
    const { AsyncLocalStorage } = await import('node:async_hooks');
    new AsyncLocalStorage().run(1, () => {});
  }
  let env;
  if (!isBaseline) {
    const core = await import('@greenhub/core');
    core.configure({ hub: contender });
    core.getHub();
    env = loadGreenhub ? { ...core, ...(await loadGreenhub(core)) } : core;
  }
  const fn = workloads[workload][isBaseline ? 'baseline' : 'greenhub'];
  await fn(env); // warm-up: let the JIT settle before the measured run
  const start = performance.now();
  await fn(env);
  const ms = performance.now() - start;
  process.stdout.write(JSON.stringify({ ms }));
  env?.resetHub();
}

/** One fresh-process run of `workload` by `contender`: `{ ms, load }` (the machine's load just before, see machineBusy). */
function measure(benchFile, contender, workload, spec) {
  const load = machineBusy();
  const [cmd, ...args] = isPython(contender)
    ? pythonArgv('workloads.py', contender, spec.python, String(spec.unit))
    : [process.execPath, benchFile, '--child', contender, workload, ...(quick ? ['--quick'] : [])];
  const out = execFileSync(cmd, args, {
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, GREENHUB_HUB: contender.startsWith('baseline') ? '' : contender },
  });
  return { ms: JSON.parse(out).ms, load };
}

function availableHubNames(benchFile) {
  const out = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "import('@greenhub/core').then(c => process.stdout.write(JSON.stringify(c.availableHubs())))",
    ],
    { encoding: 'utf8', cwd: fileURLToPath(new URL('.', `file://${benchFile}`)) },
  );
  const hubs = JSON.parse(out);
  for (const h of hubs) if (!h.available) console.log(`(hub ${h.name} skipped: ${h.reason.split('\n')[0]})`);
  return hubs.filter((h) => h.available).map((h) => h.name);
}

function median(xs) {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const LABELS = { baseline: 'plain promises', 'baseline-als': 'promises+ALS' };

function parentMain(benchFile, title, notes, workloads) {
  const hubs = availableHubNames(benchFile);
  const pythons = pythonContenders();
  const rows = [];
  for (const [workload, spec] of Object.entries(workloads)) {
    const repeat = (contender) =>
      Array.from({ length: REPEATS }, () => measure(benchFile, contender, workload, spec));
    const base = repeat('baseline');
    const als = repeat('baseline-als');
    const row = (contender, runs) => {
      const times = runs.map((r) => r.ms);
      const ms = median(times);
      const perOp = (t) => (t * 1000) / spec.unit;
      return {
        workload: spec.label,
        contender: LABELS[contender] ?? (isPython(contender) ? contender : `hub-${contender}`),
        key: contender,
        unit: 'us/op',
        ms,
        // median, min and max per operation: the figures written with --json
        median: perOp(ms),
        min: perOp(Math.min(...times)),
        max: perOp(Math.max(...times)),
        ratio: ms / median(base.map((r) => r.ms)),
        alsRatio: contender.startsWith('baseline') ? undefined : ms / median(als.map((r) => r.ms)),
        baseline: contender === 'baseline',
        loaded: runs.some((r) => r.load > BUSY_SHARE),
      };
    };
    rows.push(row('baseline', base), row('baseline-als', als));
    for (const hub of hubs) rows.push(row(hub, repeat(hub)));
    if (spec.python) for (const lib of pythons) rows.push(row(lib, repeat(lib)));
  }
  writeJsonRows(rows);
  console.log(
    `\n${title} (node ${process.version}, median of ${REPEATS}, each in a fresh process; lower is better)`,
  );
  console.log(
    'ratio = time / plain promises; vs ALS = time / plain promises with an AsyncLocalStorage active;' +
      ` ${BUSY_NOTE}`,
  );
  for (const note of notes) console.log(note);
  console.log(
    `\n${'workload'.padEnd(30)}${'contender'.padEnd(17)}${'median ms'.padStart(10)}${'min-max us/op'.padStart(16)}${'us/op'.padStart(9)}${'ratio'.padStart(8)}${'vs ALS'.padStart(8)}${'busy'.padStart(7)}`,
  );
  for (const r of rows) {
    console.log(
      `${r.workload.padEnd(30)}${r.contender.padEnd(17)}${r.ms.toFixed(1).padStart(10)}${`${r.min.toFixed(3)}-${r.max.toFixed(3)}`.padStart(16)}${r.median.toFixed(3).padStart(9)}${`${r.ratio.toFixed(2)}x`.padStart(8)}${(r.alsRatio ? `${r.alsRatio.toFixed(2)}x` : '').padStart(8)}${(r.loaded ? '*' : '').padStart(7)}`,
    );
  }
}

/** `handoffs` values passed back and forth between two async functions over promise channels. */
export async function promisePingPong(handoffs) {
  const rounds = handoffs / 2;
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
}

/** A one-value channel on plain promises. */
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
