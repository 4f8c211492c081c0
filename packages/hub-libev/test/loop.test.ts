import { performance } from 'node:perf_hooks';
import type { Stream } from '@greenhub/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createHub, type LibevHub } from '../src/index.js';
import { addon } from '../src/load-addon.js';

let hub: LibevHub;
afterEach(() => {
  expect(hub.stats()).toEqual({ active: 0, referenced: 0, open: 0 });
  hub.close();
  // The native side agrees: no libev watcher is left counted, so the prepare handle is stopped.
  expect(addon.counts()).toEqual({ active: 0, referenced: 0 });
});

function sleepOnHub(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = hub.timer(ms);
    t.start(() => {
      t.close();
      resolve();
    });
  });
}

describe('the libev loop inside Node', () => {
  it('is named libev, polls with epoll', () => {
    hub = createHub();
    expect(hub.name).toBe('libev');
    expect(hub.backend).toBe('epoll');
  });

  it('microtasks run between callbacks, as between setImmediate callbacks', async () => {
    hub = createHub();
    const order: string[] = [];
    await new Promise<void>((resolve) => {
      hub.callback(() => {
        order.push('a');
        queueMicrotask(() => order.push('a microtask'));
      });
      hub.callback(() => {
        order.push('b');
        resolve();
      });
    });
    expect(order).toEqual(['a', 'a microtask', 'b']);
  });

  it('idleTime() counts the time blocked in libev, where eventLoopUtilization() cannot see it', async () => {
    hub = createHub();
    const before = hub.idleTime();
    const elu = performance.eventLoopUtilization();
    await sleepOnHub(150);
    const idle = hub.idleTime() - before;
    expect(idle).toBeGreaterThan(100);
    expect(idle).toBeLessThan(400);
    // Documented cost of the design: Node sees a busy loop while the hub blocks.
    expect(performance.eventLoopUtilization(elu).utilization).toBeGreaterThan(0.5);
  });

  it('a timer started after the hub idled for a while still waits its full delay (no stale ev_now)', async () => {
    hub = createHub();
    await sleepOnHub(5);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const start = performance.now();
    await sleepOnHub(100);
    expect(performance.now() - start).toBeGreaterThanOrEqual(99.5);
  });

  it('now() is monotonic, cached within a turn, and refreshed by updateNow()', async () => {
    hub = createHub();
    const a = hub.now();
    expect(hub.now()).toBe(a);
    const until = performance.now() + 3;
    while (performance.now() < until) {
      // busy: the cached time must not move by itself
    }
    expect(hub.now()).toBe(a);
    hub.updateNow();
    expect(hub.now()).toBeGreaterThan(a);
    await sleepOnHub(10);
    expect(hub.now()).toBeGreaterThanOrEqual(a + 10);
  });

  it('Node timers, setImmediate and node:net keep their timing while the hub blocks in libev', async () => {
    hub = createHub();
    const keep = hub.timer(1000);
    keep.start(() => undefined);
    const start = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const timerMs = performance.now() - start;
    await new Promise((resolve) => setImmediate(resolve));
    keep.close();
    expect(timerMs).toBeGreaterThanOrEqual(49);
    expect(timerMs).toBeLessThan(200);
  });

  it('several hubs share the thread’s loop without starving each other', async () => {
    hub = createHub();
    const other = createHub();
    const fired: string[] = [];
    await Promise.all([
      new Promise<void>((resolve) => hub.timer(20).start(() => resolve(void fired.push('first')))),
      new Promise<void>((resolve) => other.timer(10).start(() => resolve(void fired.push('second')))),
    ]);
    other.close();
    expect(fired).toEqual(['second', 'first']);
  });

  // The prepare callback runs several libev iterations per libuv iteration while
  // only the hub has events; Node must still get its turn the moment it has work.
  it('Node timers and setImmediate stay on time while hub sockets ping-pong flat out', async () => {
    hub = createHub();
    const listener = hub.listen({ port: 0 });
    const streams: Stream[] = [];
    listener.start(
      (s) => {
        streams.push(s);
        s.readStart((chunk) => chunk && s.write(chunk));
      },
      () => undefined,
    );
    let roundTrips = 0;
    let running = true;
    const client = await new Promise<Stream>((resolve, reject) =>
      hub.connect({ port: listener.address.port }, (err, s) => (err ? reject(err) : resolve(s as Stream))),
    );
    streams.push(client);
    client.readStart((chunk) => {
      if (chunk && running) {
        roundTrips++;
        client.write(chunk);
      }
    });
    client.write(new Uint8Array(16));
    const lateness: number[] = [];
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 20));
      lateness.push(performance.now() - start - 20);
    }
    const immediateStart = performance.now();
    await new Promise((resolve) => setImmediate(resolve));
    const immediateMs = performance.now() - immediateStart;
    running = false;
    for (const s of streams) s.close();
    listener.close();
    expect(roundTrips).toBeGreaterThan(100);
    // Generous bounds: starving Node's loop would show as delays of the hub's own 1 s scale.
    expect(Math.max(...lateness)).toBeLessThan(300);
    expect(immediateMs).toBeLessThan(300);
  });
});
