import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { describeChild, runChild } from './helpers/child.js';

const addonPath = fileURLToPath(new URL('../build/Release/hub_libev.node', import.meta.url));

// Each case runs in its own Node process, which must exit by itself.
describe('process exit under the libev hub', () => {
  it('a referenced timer keeps the process alive until it fires, then the process exits', async () => {
    const r = await runChild(`
      const hub = createHub();
      const t0 = performance.now();
      hub.timer(300).start(() => say('fired ' + Math.round(performance.now() - t0)));
    `);
    expect(r.code, describeChild(r)).toBe(0);
    const fired = Number(/fired (\d+)/.exec(r.stdout)?.[1]);
    expect(fired).toBeGreaterThanOrEqual(300);
  });

  it('an unreferenced active timer does not keep the process alive', async () => {
    const r = await runChild(`
      const hub = createHub();
      const t = hub.timer(5000);
      t.unref();
      t.start(() => say('fired'));
      say('started');
    `);
    expect(r.code, describeChild(r)).toBe(0);
    expect(r.stdout).toBe('started\n');
    expect(r.elapsedMs).toBeLessThan(3000);
  });

  it('an unreferenced repeating timer keeps firing while Node has other work, then lets the process exit', async () => {
    const r = await runChild(`
      const hub = createHub();
      let n = 0;
      const t = hub.timer(10, 10);
      t.unref();
      t.start(() => n++);
      setTimeout(() => say('ticks ' + (n > 5)), 200);
    `);
    expect(r.code, describeChild(r)).toBe(0);
    expect(r.stdout).toBe('ticks true\n');
  });

  it('a one-shot timer restarted from its own callback keeps the process alive each time', async () => {
    const r = await runChild(`
      const hub = createHub();
      let n = 0;
      const t = hub.timer(5);
      const again = () => { if (++n < 5) t.start(again); else say('done ' + n); };
      t.start(again);
    `);
    expect(r.code, describeChild(r)).toBe(0);
    expect(r.stdout).toBe('done 5\n');
  });

  it('a throwing callback goes to onError and the loop goes on', async () => {
    const r = await runChild(`
      const hub = createHub({ onError: (e, ctx) => say('onError ' + ctx + ' ' + e.message) });
      hub.callback(() => { throw new Error('boom'); });
      hub.callback(() => say('next callback'));
      hub.timer(5).start(() => { throw new Error('tick'); });
      hub.timer(20).start(() => say('later timer'));
    `);
    expect(r.code, describeChild(r)).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      'onError callback boom',
      'next callback',
      'onError timer(5ms) tick',
      'later timer',
      '',
    ]);
  });

  it('process.exit() inside a hub callback exits with its code', async () => {
    const r = await runChild(`
      const hub = createHub();
      hub.timer(10).start(() => process.exit(7));
      hub.timer(5000).start(() => say('too late'));
    `);
    expect(r.code, describeChild(r)).toBe(7);
    expect(r.stdout).toBe('');
  });

  it('beforeExit can re-arm a hub timer', async () => {
    const r = await runChild(`
      const hub = createHub();
      let rounds = 0;
      process.on('beforeExit', () => { if (rounds++ < 3) hub.timer(5).start(() => say('round ' + rounds)); });
    `);
    expect(r.code, describeChild(r)).toBe(0);
    expect(r.stdout).toBe('round 1\nround 2\nround 3\n');
  });

  it('the process exits once the last listener and stream are closed', async () => {
    const r = await runChild(`
      const hub = createHub();
      const l = hub.listen({ port: 0 });
      l.start((s) => s.readStart((chunk) => { if (!chunk) { s.close(); l.close(); } }), () => {});
      hub.connect({ port: l.address.port }, (err, s) => { s.write(new Uint8Array([1, 2, 3]), () => s.close()); });
    `);
    expect(r.code, describeChild(r)).toBe(0);
    expect(r.elapsedMs).toBeLessThan(3000);
  });

  it('hub.close() lets the process exit at once, with pending requests cancelled', async () => {
    const r = await runChild(`
      const hub = createHub();
      hub.timer(10_000).start(() => say('never'));
      const l = hub.listen({ port: 0 });
      l.start(() => {}, () => {});
      // Loopback only: a connect calls back on a later turn, so it is still pending here.
      hub.connect({ host: '127.0.0.1', port: l.address.port }, (err) => say('connect ' + (err && err.code)));
      hub.close();
      say('closed');
    `);
    expect(r.code, describeChild(r)).toBe(0);
    expect(r.stdout).toBe('closed\nconnect ECANCELED\n');
    expect(r.elapsedMs).toBeLessThan(3000);
  });

  it('an exception escaping onError itself is printed, not lost, and the loop goes on', async () => {
    const r = await runChild(`
      const hub = createHub({ onError: () => { throw new Error('onError broke'); } });
      hub.callback(() => { throw new Error('first'); });
      hub.timer(5).start(() => say('still running'));
    `);
    expect(r.code, describeChild(r)).toBe(0);
    expect(r.stdout).toBe('still running\n');
    expect(r.stderr).toContain('onError broke');
  });

  it('an exception escaping to native code becomes uncaughtException, never a silent stop (pitfall 8)', async () => {
    const r = await runChild(`
      const { createRequire } = await import('node:module');
      const addon = createRequire(import.meta.url)(${JSON.stringify(addonPath)});
      process.on('uncaughtException', (err) => say('uncaught ' + err.message));
      const bad = new addon.Timer();
      bad.ontimeout = () => { throw new Error('from native dispatch'); };
      bad.start(5, 0);
      const good = new addon.Timer();
      good.ontimeout = () => say('later timer ran');
      good.start(30, 0);
    `);
    expect(r.code, describeChild(r)).toBe(0);
    expect(r.stdout).toBe('uncaught from native dispatch\nlater timer ran\n');
  });

  it('without an uncaughtException handler, such an exception exits the process with code 1', async () => {
    const r = await runChild(`
      const { createRequire } = await import('node:module');
      const addon = createRequire(import.meta.url)(${JSON.stringify(addonPath)});
      const bad = new addon.Timer();
      bad.ontimeout = () => { throw new Error('fatal here'); };
      bad.start(5, 0);
    `);
    expect(r.code, describeChild(r)).toBe(1);
    expect(r.stderr).toContain('fatal here');
  });
});
