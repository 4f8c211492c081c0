// The timer workloads of the benchmark, run in a fresh process per contender
// by bench/run.mjs:
//
//   node timer-chain.mjs <libev|pure|node> <chain|burst> N
//
// chain: a zero-delay timer whose callback starts the next one, N steps (on
//        node: a setImmediate chain). Prints {"ns": ns per step}.
// burst: rounds of 1000 zero-delay timers, the next round started when the
//        last timer of the previous one fired, N rounds (on node: setTimeout).
//        Prints {"ns": ns per callback}.
// A smaller warm-up run comes first so that the JIT has settled.
const [contender, workload, nArg] = process.argv.slice(2);
const N = Number(nArg);
const BURST = 1000;

const hub =
  contender === 'node'
    ? undefined
    : (await import(contender === 'libev' ? '@greenhub/hub-libev' : '@greenhub/hub-pure')).createHub();

function chain(n) {
  return new Promise((resolve) => {
    let left = n;
    if (!hub) {
      const step = () => (--left === 0 ? resolve() : setImmediate(step));
      setImmediate(step);
      return;
    }
    const step = () => {
      if (--left === 0) return resolve();
      hub.timer(0).start(step);
    };
    hub.timer(0).start(step);
  });
}

function burst(rounds) {
  return new Promise((resolve) => {
    let round = 0;
    let left = 0;
    const fired = () => {
      if (--left === 0) ++round === rounds ? resolve() : start();
    };
    const start = () => {
      left = BURST;
      if (!hub) for (let i = 0; i < BURST; i++) setTimeout(fired, 0);
      else for (let i = 0; i < BURST; i++) hub.timer(0).start(fired);
    };
    start();
  });
}

const run = workload === 'chain' ? chain : burst;
await run(Math.max(1, Math.round(N / 10)));
const t0 = process.hrtime.bigint();
await run(N);
const ns = Number(process.hrtime.bigint() - t0);
const perOp = workload === 'chain' ? ns / N : ns / (N * BURST);
process.stdout.write(JSON.stringify({ ns: perOp }));
hub?.close();
