import { GreenletExit, LoopExit } from './errors.js';
import { Greenlet, liveGreenlets } from './greenlet.js';
import type { SignalWatcher } from './hub/index.js';
import { getHub } from './registry.js';
import { pendingDrainWaits } from './wait.js';

const EXIT_CODES: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Run `main` in a greenlet and settle with its result — the entry point of a
 * greenhub program.
 *
 * - SIGINT / SIGTERM kill `main` gracefully with a `GreenletExit` (its
 *   `finally` blocks run, servers stop) and set `process.exitCode` to 130 /
 *   143; a second signal gets Node's default (immediate exit).
 * - If `main` waits on something that can no longer happen — no referenced
 *   hub work is left and nothing else could wake it — `run` rejects with a
 *   `LoopExit` naming what main was waiting for, instead of the process
 *   exiting silently.
 * - An error thrown by `main` rejects `run` (and is not reported twice).
 *
 * @example
 * await run(async () => {
 *   const server = await serve({ port: 8080, fetch: () => new Response('hi') });
 *   await server.serveForever();
 * });
 */
export function run<T>(main: () => T | Promise<T>): Promise<T> {
  const g = new Greenlet<T>(main as () => T | Promise<T>);
  g.name = main.name ? `run:${main.name}` : `run#${g.id}`;
  g._quiet = true;
  const hub = getHub();
  const watchers: SignalWatcher[] = [];
  let settle: ((outcome: { ok: true; value: T } | { ok: false; error: unknown }) => void) | undefined;

  const cleanup = (): void => {
    process.off('beforeExit', onDrained);
    for (const w of watchers) w.close();
    watchers.length = 0;
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (process.exitCode === undefined) process.exitCode = EXIT_CODES[signal] ?? 1;
    // Hand later signals back to Node: a second Ctrl-C exits at once if shutdown hangs.
    for (const w of watchers) w.close();
    watchers.length = 0;
    g._killNow(new GreenletExit(`${signal} received`));
  };

  const onDrained = (): void => {
    if (g.dead) return;
    if (pendingDrainWaits() > 0) {
      // A wait() for the loop to drain is woken by this same beforeExit, so nothing is stuck yet; one
      // more loop turn makes beforeExit come again if what runs next blocks forever.
      setImmediate(() => {});
      return;
    }
    const waitingOn = g.waitingOn;
    const others = [...liveGreenlets()].filter((x) => x !== g);
    const rest =
      others.length === 0
        ? 'no other greenlet is alive'
        : `still alive but blocked: ${others.map((x) => `${x.name} (${x.waitingOn ?? 'not in a greenhub wait'})`).join(', ')}`;
    const error = new LoopExit(
      `${g.name} waits forever on ${waitingOn ?? 'a promise outside greenhub'}: no referenced hub work is left to wake it; ${rest}`,
    );
    if (waitingOn) g._throwIn(error, undefined);
    else settle?.({ ok: false, error });
  };

  for (const name of ['SIGINT', 'SIGTERM'] as const) {
    const watcher = hub.signal(name);
    watcher.start(() => onSignal(name));
    watchers.push(watcher);
  }
  process.on('beforeExit', onDrained);

  return new Promise<T>((resolve, reject) => {
    settle = (outcome) => {
      settle = undefined;
      cleanup();
      if (outcome.ok) resolve(outcome.value);
      else reject(outcome.error);
    };
    g.rawlink(() => {
      if (g.successful()) settle?.({ ok: true, value: g.value as T });
      else settle?.({ ok: false, error: g.exception });
    });
    g.start();
  });
}
