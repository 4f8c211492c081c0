/**
 * The blocking monitor's watchdog, run as an `eval` worker so that it needs no
 * file of its own next to the bundle (ESM, CJS and the TypeScript sources
 * under vitest all work the same).
 *
 * It watches a heartbeat the main thread bumps every `period` ms; when the
 * beat is older than `maxBlockingTime`, it pauses the main thread through the
 * inspector (which interrupts running JavaScript), evaluates a probe on the
 * paused stack — the current greenlet and `new Error().stack`, so the stack is
 * the one of the blocking code, taken while it is still blocked — resumes, and
 * posts the report. Each beat is reported at most once, and the monitor's own
 * pause happens inside the episode it reports, so it never reports itself
 * (gevent #1665).
 */
export const MONITOR_WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { sab, base, maxBlockingTime, period, probe, inspect, print } = workerData;
const { writeSync } = require('node:fs');
const beat = new Int32Array(sab);
const clock = () => performance.timeOrigin + performance.now() - base;
let inspector;
try {
  inspector = require('node:inspector');
} catch {} // a Node built without the inspector: reports without a stack
const canCapture = inspect && inspector !== undefined;
const PROBE = '(function greenhubMonitorProbe() {' +
  ' const limit = Error.stackTraceLimit; Error.stackTraceLimit = 64;' +
  ' const stack = new Error().stack; Error.stackTraceLimit = limit;' +
  ' const g = globalThis[Symbol.for(' + JSON.stringify(probe) + ')];' +
  ' const current = typeof g === "function" ? g() : undefined;' +
  ' return { stack, name: current && current.name, id: current && current.id };' +
  '})()';
function framesOf(stack) {
  const lines = String(stack || '').split('\\n').map((l) => l.trim()).filter((l) => l.startsWith('at '));
  // Drop the probe itself and the evaluation frame it runs in.
  let i = lines.findIndex((l) => l.includes('greenhubMonitorProbe'));
  if (i >= 0) { i++; while (i < lines.length && /^at (eval |<anonymous>:)/.test(lines[i])) i++; }
  return (i >= 0 ? lines.slice(i) : lines).map((l) => l.slice(3));
}
async function capture(last) {
  const report = { type: 'blocked', greenlet: 'unknown', id: 0, blockedMs: 0, stack: [], at: 0 };
  const finish = (stack) => {
    report.at = performance.timeOrigin + performance.now();
    report.blockedMs = Math.round(clock() - last);
    if (stack) report.stack = stack;
    return report;
  };
  if (!canCapture) {
    return finish([inspect ? '<no stack: node:inspector is not available>' : '<no stack: the inspector can only pause the main thread>']);
  }
  // A session only for this capture: none stays connected to the main thread (at exit, Node would
  // print "Waiting for the debugger to disconnect...").
  const session = new inspector.Session();
  try {
    session.connectToMainThread();
  } catch (err) {
    return finish(['<no stack: ' + String(err && err.message || err) + '>']);
  }
  const post = (method, params) =>
    new Promise((resolve, reject) => session.post(method, params || {}, (err, res) => (err ? reject(err) : resolve(res))));
  try {
    let timer;
    const paused = new Promise((resolve) => session.once('Debugger.paused', (msg) => resolve(msg.params)));
    const late = new Promise((resolve) => { timer = setTimeout(resolve, Math.max(250, 2 * maxBlockingTime)); });
    // Sent together: the main thread handles them in one interrupt, even in a busy loop.
    post('Debugger.enable').catch(() => {});
    post('Debugger.pause').catch(() => {});
    const params = await Promise.race([paused, late]);
    clearTimeout(timer);
    // Disconnecting drops a pause that has not landed yet, so the main thread never stops later.
    if (!params) return finish(['<no stack: blocked outside JavaScript (native code or a system call)>']);
    finish();
    try {
      // Runtime.evaluate, not evaluateOnCallFrame: it runs in the global scope (Node's internal
      // modules hide globalThis) on top of the paused stack, so the stack still starts there.
      const res = await post('Runtime.evaluate', { expression: PROBE, returnByValue: true, silent: true });
      const value = res && res.result && res.result.value;
      if (value) {
        report.stack = framesOf(value.stack);
        if (value.name) { report.greenlet = value.name; report.id = value.id; }
      }
    } catch {}
    if (report.stack.length === 0) {
      report.stack = params.callFrames.map((f) =>
        (f.functionName || '<anonymous>') + ' (' + (f.url || 'script ' + f.location.scriptId) + ':' +
        (f.location.lineNumber + 1) + ':' + ((f.location.columnNumber || 0) + 1) + ')');
    }
    await post('Debugger.resume').catch(() => {});
    return report;
  } finally {
    session.disconnect();
  }
}
// The same text as formatBlockingReport() on the main thread.
function format(r) {
  const frames = r.stack.map((f) => '    at ' + f + '\\n').join('');
  return new Date(r.at).toISOString() + ' greenlet ' + r.greenlet + ' blocked the event loop for ' + r.blockedMs +
    ' ms (more than ' + maxBlockingTime + ' ms)\\n' + frames;
}
// The beat is at most one period older than a block's start, so a beat older than
// maxBlockingTime + period means the loop has been blocked longer than maxBlockingTime.
const limit = maxBlockingTime + period;
let reported = NaN;
// Wake up only when the beat could first be too old, not every period: on a busy loop that is
// about one wake-up per maxBlockingTime, however often the beat moves.
function check() {
  const last = Atomics.load(beat, 0);
  const stale = ((Math.floor(clock()) | 0) - last) | 0;
  if (last === reported) return setTimeout(check, maxBlockingTime); // still the episode reported
  if (stale <= limit) return setTimeout(check, limit - stale + 1);
  reported = last;
  capture(last).then(
    (report) => {
      // Printed from here, at once: a loop that never unblocks still gets its report.
      if (print) {
        try { writeSync(2, format(report)); } catch {}
      }
      parentPort.postMessage(report);
    },
    (err) => parentPort.postMessage({ type: 'error', message: String(err && err.stack || err) }),
  ).finally(() => setTimeout(check, period));
}
// Inspector replies keep no handle alive: without this the thread would end while it waits for one
// (leaving the main thread paused until it does). It never fires; the main side unrefs the worker.
setInterval(() => {}, 2 ** 30);
check();
parentPort.postMessage({ type: 'ready', canCapture });
`;
