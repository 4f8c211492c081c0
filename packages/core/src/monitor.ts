import diagnosticsChannel from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import { isMainThread, Worker } from 'node:worker_threads';
import { getcurrent } from './greenlet.js';
import { MONITOR_WORKER_SOURCE } from './internal/monitor-worker.js';
import { reportError } from './report-error.js';

/** What the blocking monitor reports when the event loop was blocked longer than `maxBlockingTime`. */
export interface BlockingReport {
  /** Name of the greenlet that was running (`main` outside any greenlet, `unknown` if it could not be read). */
  greenlet: string;
  /** Its id (0 when unknown). */
  greenletId: number;
  /** How long the loop had been blocked when the stack was taken (an upper bound, by at most one heartbeat). */
  blockedMs: number;
  /** The blocked thread's stack, innermost frame first, taken while it was still blocked: `crawl (file:///app.js:12:5)`. */
  stack: string[];
  /** When the stack was taken. */
  at: Date;
}

/** Settings of the blocking monitor: `configure({ monitor: { maxBlockingTime: 50 } })`. */
export interface MonitorOptions {
  /** Report a loop blocked longer than this many ms. Default `GREENHUB_MAX_BLOCKING_TIME` (ms) or 100. */
  maxBlockingTime?: number;
  /** Print each report on stderr, from the watchdog thread, at once — even if the loop never unblocks. Default true (gevent's `print_blocking_reports`). */
  print?: boolean;
}

const DEFAULT_MAX_BLOCKING_TIME = 100;
const PROBE = 'greenhub.monitor.current';

/** diagnostics_channel on which every {@link BlockingReport} is published. */
export const blockedChannel = diagnosticsChannel.channel('greenhub:blocked');

/**
 * The blocking monitor: started by `GREENHUB_MONITOR=1` or
 * `configure({ monitor: true | { maxBlockingTime } })` with the hub, stopped
 * with it. A watchdog worker thread sees the loop's heartbeat go stale, pauses
 * the loop's thread through `node:inspector`, and reads the running greenlet
 * and its stack on the spot. Off, it costs nothing: no thread, no timer, no
 * per-greenlet work.
 *
 * Emits `'blocked'` with a {@link BlockingReport} once the loop runs again
 * (the stack was taken while it was blocked). A failing watchdog goes to
 * `reportError`, never to an `'error'` event.
 *
 * @example
 * configure({ monitor: { maxBlockingTime: 50, print: false } });
 * monitor.on('blocked', (r) => log.warn(`${r.greenlet} blocked ${r.blockedMs} ms`, r.stack));
 */
export class BlockingMonitor extends EventEmitter<{ blocked: [BlockingReport] }> {
  #worker: Worker | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #ready: Promise<boolean> = Promise.resolve(false);
  #maxBlockingTime = 0;
  #isReady = false;

  /** True while the watchdog thread exists. */
  get running(): boolean {
    return this.#worker !== undefined;
  }

  /** The watchdog's `threadId`, or undefined when off. */
  get threadId(): number | undefined {
    return this.#worker?.threadId;
  }

  /** The threshold in force (0 when off). */
  get maxBlockingTime(): number {
    return this.#worker ? this.#maxBlockingTime : 0;
  }

  /**
   * Resolves once the watchdog watches (true), or at once with false when the monitor is off.
   * @example configure({ monitor: true }); getHub(); await monitor.ready();
   */
  ready(): Promise<boolean> {
    // Whoever waits for the watchdog keeps the process alive until it is up (the worker is unref'd).
    const worker = this.#worker;
    if (worker && !this.#isReady) {
      worker.ref();
      void this.#ready.then(() => worker.unref());
    }
    return this.#ready;
  }

  /** @internal Start (or restart with new settings). */
  _start(setting: true | MonitorOptions): void {
    this._stop();
    const opts = setting === true ? {} : setting;
    const envMax = Number(process.env.GREENHUB_MAX_BLOCKING_TIME);
    const max = opts.maxBlockingTime ?? (envMax > 0 ? envMax : DEFAULT_MAX_BLOCKING_TIME);
    if (!(max > 0)) throw new RangeError(`maxBlockingTime must be > 0 ms, got ${max}`);
    this.#maxBlockingTime = max;
    // A block is seen at most maxBlockingTime + period after it starts: a quarter keeps reports
    // prompt (within 1.25x the threshold, plus the capture) for few wake-ups of an idle loop.
    const period = Math.max(1, Math.floor(max / 4));
    const sab = new SharedArrayBuffer(4);
    const beat = new Int32Array(sab);
    const base = performance.timeOrigin + performance.now();
    const bump = (): void => {
      Atomics.store(beat, 0, Math.floor(performance.timeOrigin + performance.now() - base) | 0);
    };
    bump();
    // A Node timer, not a hub timer: it shares the thread (so a blocked hub stops it too) but is no
    // hub work, so `stats()`, `idle()` and the process's lifetime do not see it.
    this.#heartbeat = setInterval(bump, period);
    this.#heartbeat.unref();
    (globalThis as Record<symbol, unknown>)[Symbol.for(PROBE)] = currentGreenlet;
    const worker = new Worker(MONITOR_WORKER_SOURCE, {
      eval: true,
      name: 'greenhub monitor',
      // Not the app's --import/--require hooks: the watchdog needs nothing but Node.
      execArgv: [],
      // The inspector can only pause the process's main thread: from a worker, reports carry no stack.
      workerData: {
        sab,
        base,
        maxBlockingTime: max,
        period,
        probe: PROBE,
        inspect: isMainThread,
        print: opts.print ?? true,
      },
      stdout: false,
      stderr: false,
    });
    this.#worker = worker;
    this.#isReady = false;
    let markReady: (ok: boolean) => void = () => {};
    this.#ready = new Promise((resolve) => {
      markReady = (ok) => {
        if (this.#worker === worker) this.#isReady = ok;
        resolve(ok);
      };
    });
    worker.on('message', (msg: WorkerMessage) => {
      if (msg.type === 'ready') markReady(true);
      else if (msg.type === 'blocked') this.#deliver(msg);
      else reportError(new Error(`blocking monitor: ${msg.message}`), 'monitor');
    });
    worker.on('error', (err) => {
      markReady(false);
      reportError(err, 'monitor');
    });
    worker.on('exit', () => {
      markReady(false);
      if (this.#worker === worker) this._stop();
    });
    // After the listeners: adding a 'message' listener re-references the worker.
    worker.unref();
  }

  /** @internal Stop the watchdog and the heartbeat. Idempotent. */
  _stop(): void {
    const worker = this.#worker;
    this.#worker = undefined;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    this.#ready = Promise.resolve(false);
    if (worker) {
      worker.removeAllListeners('message');
      void worker.terminate().catch(() => {});
      delete (globalThis as Record<symbol, unknown>)[Symbol.for(PROBE)];
    }
  }

  #deliver(msg: BlockedMessage): void {
    const report: BlockingReport = {
      greenlet: msg.greenlet,
      greenletId: msg.id,
      blockedMs: msg.blockedMs,
      stack: msg.stack,
      at: new Date(msg.at),
    };
    if (blockedChannel.hasSubscribers) blockedChannel.publish(report);
    try {
      this.emit('blocked', report);
    } catch (err) {
      reportError(err, "monitor 'blocked' listener");
    }
  }
}

type BlockedMessage = {
  type: 'blocked';
  greenlet: string;
  id: number;
  blockedMs: number;
  stack: string[];
  at: number;
};
type WorkerMessage =
  | { type: 'ready'; canCapture: boolean }
  | BlockedMessage
  | { type: 'error'; message: string };

function currentGreenlet(): { name: string; id: number } {
  const g = getcurrent();
  return { name: g.name, id: g.id };
}

/**
 * A report as printed on stderr: when, how long, which greenlet, and the stack.
 * @example monitor.on('blocked', (r) => logger.warn(formatBlockingReport(r)));
 */
export function formatBlockingReport(
  report: BlockingReport,
  maxBlockingTime = monitor.maxBlockingTime,
): string {
  const threshold = maxBlockingTime > 0 ? ` (more than ${maxBlockingTime} ms)` : '';
  const frames = report.stack.map((frame) => `    at ${frame}\n`).join('');
  return `${report.at.toISOString()} greenlet ${report.greenlet} blocked the event loop for ${report.blockedMs} ms${threshold}\n${frames}`;
}

/** The process's blocking monitor. */
export const monitor = new BlockingMonitor();

/** @internal Apply the `monitor` setting: start, restart or stop. */
export function applyMonitorSetting(setting: boolean | MonitorOptions): void {
  if (setting === false) monitor._stop();
  else monitor._start(setting);
}
