import {
  configure,
  GreenletExit,
  getcurrent,
  getHub,
  type Listener as HubListener,
  hubMetrics,
  idle,
  type SocketAddress,
  type Stream,
  sleep,
  spawn,
} from '@greenhub/core';
import { describeEachHub } from '@greenhub/core/testing';
import { Event, Group, Pool } from '@greenhub/sync';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { BaseServer } from '../src/base-server.js';
import { connect } from '../src/connect.js';
import { Listener, listen } from '../src/listener.js';
import type { Socket } from '../src/socket.js';
import { StreamServer } from '../src/stream-server.js';
import { caught } from './sockets-helpers.js';

/** Yield until `cond()` holds (bounded: fails after ~2 s). */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 2000;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(1);
  }
}

describeEachHub('StreamServer', () => {
  let errors: { error: unknown; context: string }[] = [];
  beforeEach(() => {
    errors = [];
    configure({ onError: (error, context) => errors.push({ error, context }) });
  });
  afterEach(() => configure({ onError: undefined }));

  it("shows its running handlers in core's hubMetrics().gauges while it serves", async () => {
    const release = new Event();
    const server = new StreamServer({ port: 0 }, () => release.wait(3000));
    await server.start();
    const name = `StreamServer:127.0.0.1:${server.address.port} handlers`;
    expect(hubMetrics().gauges[name]).toBe(0);
    const client = await connect({ port: server.address.port, timeout: 1000 });
    await until(() => hubMetrics().gauges[name] === 1, 'the handler to run');
    release.set();
    await until(() => hubMetrics().gauges[name] === 0, 'the handler to end');
    client.close();
    await server.stop();
    expect(hubMetrics().gauges[name]).toBeUndefined();
  });

  it('runs one named handler greenlet per connection and closes the socket when the handler returns', async () => {
    const names: string[] = [];
    let n = 0;
    const server = new StreamServer({ port: 0 }, async (sock: Socket, address: SocketAddress) => {
      names.push(getcurrent().name);
      expect(address).toEqual(sock.remoteAddress);
      await sock.write(`hello ${++n}\n`);
    });
    expect(server).toBeInstanceOf(BaseServer);
    expect(server.started).toBe(false);
    await server.start();
    expect(server.started).toBe(true);
    expect(server.address.port).toBeGreaterThan(0);
    const clients = [
      await connect({ port: server.address.port, timeout: 1000 }),
      await connect({ port: server.address.port, timeout: 1000 }),
    ];
    const lines = [];
    for (const c of clients) {
      c.timeout = 1000;
      lines.push(await c.readLine());
      expect(await c.read()).toBeNull(); // closed by the server once the handler returned
      c.close();
    }
    expect(lines.sort()).toEqual(['hello 1', 'hello 2']);
    expect(names).toHaveLength(2);
    for (const name of names) expect(name).toMatch(/^handler:127\.0\.0\.1:\d+#\d+$/);
    await server.stop();
    expect(server.closed).toBe(true);
  });

  it("reports a handler's error with the handler's name, closes its socket and keeps serving", async () => {
    let calls = 0;
    await using server = new StreamServer({ port: 0 }, async (sock: Socket) => {
      if (++calls === 1) throw new Error('handler broke');
      await sock.write('fine\n');
    });
    await server.start();
    await using first = await connect({ port: server.address.port, timeout: 1000 });
    first.timeout = 1000;
    expect(await first.read()).toBeNull();
    await until(() => errors.length === 1, 'the error report');
    expect((errors[0]!.error as Error).message).toBe('handler broke');
    expect(errors[0]!.context).toMatch(/handler:127\.0\.0\.1:\d+#\d+/);
    await using second = await connect({ port: server.address.port, timeout: 1000 });
    second.timeout = 1000;
    expect(await second.readLine()).toBe('fine');
    expect(server.closed).toBe(false);
  });

  it('pauses accepting while a Pool(2) is full: a third client is accepted only once a handler ends', async () => {
    let accepted = 0;
    const server = new StreamServer(
      { port: 0 },
      async (sock: Socket) => {
        accepted++;
        sock.timeout = 2000;
        await sock.readLine(); // until the client says so
      },
      { spawn: 2 },
    );
    expect(server.spawner).toBeInstanceOf(Pool);
    await server.start();
    const clients: Socket[] = [];
    for (let i = 0; i < 3; i++) clients.push(await connect({ port: server.address.port, timeout: 1000 }));
    await until(() => accepted === 2, 'two handlers');
    for (let i = 0; i < 5; i++) await idle();
    expect(accepted).toBe(2);
    expect(server.handlerCount).toBe(2);
    await clients[0]!.write('done\n');
    await until(() => accepted === 3, 'the third handler');
    expect(server.handlerCount).toBe(2);
    for (const c of clients.slice(1)) await c.write('done\n');
    await until(() => server.handlerCount === 0, 'handlers to end');
    for (const c of clients) c.close();
    await server.stop();
  });

  it('takes at most maxAccept connections in a row before yielding to other greenlets', async () => {
    const listener = listen({ port: 0 });
    let accepted = 0;
    const server = new StreamServer(
      listener,
      () => {
        accepted++;
      },
      { maxAccept: 2 },
    );
    expect(server.address).toEqual(listener.address);
    const clients: Socket[] = [];
    for (let i = 0; i < 6; i++) clients.push(await connect({ port: listener.address.port, timeout: 1000 }));
    const seen: number[] = [];
    const observer = spawn(async () => {
      while (accepted < 6) {
        seen.push(accepted);
        await sleep(0);
      }
      seen.push(accepted);
    });
    await server.start();
    await observer.get({ timeout: 2000 });
    const steps = seen.slice(1).map((v, i) => v - seen[i]!);
    expect(Math.max(...steps)).toBeLessThanOrEqual(2);
    expect(seen.at(-1)).toBe(6);
    for (const c of clients) c.close();
    await server.stop();
    expect(listener.closed).toBe(true);
  });

  it('stop(timeout) closes the listener, waits for handlers up to timeout, then kills the ones still running', async () => {
    const outcome: Record<string, string> = {};
    let n = 0;
    const server = new StreamServer({ port: 0 }, async () => {
      const role = ++n === 1 ? 'quick' : 'diehard';
      try {
        await sleep(role === 'quick' ? 50 : 60_000);
        outcome[role] = 'finished';
      } catch (err) {
        outcome[role] = err instanceof GreenletExit ? 'killed' : String(err);
        throw err;
      }
    });
    await server.start();
    const port = server.address.port;
    const a = await connect({ port, timeout: 1000 });
    await until(() => n === 1, 'the first handler');
    const b = await connect({ port, timeout: 1000 });
    await until(() => n === 2, 'the second handler');
    const t0 = performance.now();
    await server.stop(200);
    const took = performance.now() - t0;
    expect(outcome).toEqual({ quick: 'finished', diehard: 'killed' });
    expect(took).toBeGreaterThanOrEqual(180);
    expect(took).toBeLessThan(1000);
    expect(server.handlerCount).toBe(0);
    expect(((await caught(connect({ port, timeout: 1000 }))) as { code?: string }).code).toBe('ECONNREFUSED');
    for (const c of [a, b]) {
      c.timeout = 1000;
      expect(await c.read()).toBeNull();
      c.close();
    }
    expect(errors).toEqual([]);
  });

  it('stop() of an idle server closes the listener at once and is idempotent', async () => {
    const server = new StreamServer({ port: 0 }, () => {});
    await server.start();
    const port = server.address.port;
    const t0 = performance.now();
    await server.stop();
    // At once, not after the 1 s stop timeout (the bound leaves room for a busy machine).
    expect(performance.now() - t0).toBeLessThan(500);
    expect(server.closed).toBe(true);
    await server.stop();
    expect(((await caught(connect({ port, timeout: 1000 }))) as { code?: string }).code).toBe('ECONNREFUSED');
    expect(((await caught(server.start())) as { code?: string }).code).toBe('ERR_SERVER_CLOSED');
  });

  it('serveForever() starts the server and returns once stop() has run', async () => {
    const server = new StreamServer({ port: 0 }, async (sock: Socket) => {
      await sock.write('hi\n');
    });
    const g = spawn(() => server.serveForever());
    await until(() => server.started, 'the server to start');
    await using c = await connect({ port: server.address.port, timeout: 1000 });
    c.timeout = 1000;
    expect(await c.readLine()).toBe('hi');
    expect(g.dead).toBe(false);
    await server.stop();
    expect(await g.join(1000)).toBe(true);
    expect(g.successful()).toBe(true);
  });

  it('killing the greenlet in serveForever() stops the server, its handlers included', async () => {
    let killed = false;
    const server = new StreamServer({ port: 0 }, async () => {
      try {
        await sleep(60_000);
      } catch (err) {
        killed = err instanceof GreenletExit;
        throw err;
      }
    });
    const g = spawn(() => server.serveForever());
    await until(() => server.started, 'the server to start');
    const port = server.address.port;
    const c = await connect({ port, timeout: 1000 });
    await until(() => server.handlerCount === 1, 'the handler');
    await g.kill(undefined, { timeout: 3000 });
    expect(g.dead).toBe(true);
    expect(g.value).toBeInstanceOf(GreenletExit);
    expect(server.closed).toBe(true);
    expect(killed).toBe(true);
    expect(((await caught(connect({ port, timeout: 1000 }))) as { code?: string }).code).toBe('ECONNREFUSED');
    c.close();
  });

  it('start() twice is harmless: one listener, one accept loop', async () => {
    let calls = 0;
    await using server = new StreamServer({ port: 0 }, () => {
      calls++;
    });
    await server.start();
    const address = server.address;
    await server.start();
    expect(server.address).toEqual(address);
    expect(getHub().stats().open).toBe(1);
    await using c = await connect({ port: address.port, timeout: 1000 });
    c.timeout = 1000;
    expect(await c.read()).toBeNull();
    expect(calls).toBe(1);
  });

  it('start() rejects with EADDRINUSE when the port is taken, and the server is not started', async () => {
    using taken = listen({ port: 0 });
    const server = new StreamServer({ port: taken.address.port }, () => {});
    expect(((await caught(Promise.resolve().then(() => server.address))) as { code?: string }).code).toBe(
      'ERR_SERVER_NOT_STARTED',
    );
    expect(((await caught(server.start())) as { code?: string }).code).toBe('EADDRINUSE');
    expect(server.started).toBe(false);
    await server.stop();
    expect(server.closed).toBe(true);
  });

  it('backs off on EMFILE from accept (10, 20, 40 ms...) without spinning, reports it, and resumes', async () => {
    const real = getHub().listen({ host: '127.0.0.1', port: 0 });
    const starts: number[] = [];
    let failures = 4;
    const flaky: HubListener = {
      get address() {
        return real.address;
      },
      start(onConnection: (stream: Stream) => void, onError: (err: Error) => void) {
        starts.push(performance.now());
        if (failures > 0) {
          failures--;
          const err = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' });
          getHub().callback(() => onError(err));
          return;
        }
        real.start(onConnection, onError);
      },
      stop: () => real.stop(),
      close: () => real.close(),
      ref: () => real.ref(),
      unref: () => real.unref(),
    };
    let served = 0;
    const server = new StreamServer(new Listener(flaky), async (sock: Socket) => {
      served++;
      await sock.write('ok\n');
    });
    await server.start();
    await using c = await connect({ port: server.address.port, timeout: 1000 });
    c.timeout = 2000;
    expect(await c.readLine()).toBe('ok');
    expect(served).toBe(1);
    expect(errors.map((e) => (e.error as { code?: string }).code)).toEqual([
      'EMFILE',
      'EMFILE',
      'EMFILE',
      'EMFILE',
    ]);
    expect(errors[0]!.context).toMatch(/StreamServer:127\.0\.0\.1:\d+ accept/);
    const gaps = starts.slice(1, 5).map((t, i) => t - starts[i]!);
    expect(gaps).toHaveLength(4);
    for (const [i, gap] of gaps.entries()) expect(gap).toBeGreaterThanOrEqual(10 * 2 ** i - 2);
    await server.stop();
  });

  it('a handler may call stop(): it is neither waited for nor killed, and the server closes', async () => {
    let finished = false;
    const server: StreamServer = new StreamServer({ port: 0 }, async (sock: Socket) => {
      await server.stop(100);
      await sock.write('bye\n');
      finished = true;
    });
    await server.start();
    await using c = await connect({ port: server.address.port, timeout: 1000 });
    c.timeout = 1000;
    expect(await c.readLine()).toBe('bye');
    expect(await c.read()).toBeNull();
    expect(finished).toBe(true);
    expect(server.closed).toBe(true);
  });

  it('stop() waits for and kills only its own handlers, not other members of a shared Group', async () => {
    const group = new Group();
    const other = group.spawn(() => sleep(60_000));
    const server = new StreamServer({ port: 0 }, () => sleep(60_000), { spawn: group });
    await server.start();
    await using _client = await connect({ port: server.address.port, timeout: 1000 });
    await until(() => server.handlerCount === 1, 'the handler');
    expect(group.size).toBe(2);
    await server.stop(10);
    expect(group.size).toBe(1);
    expect(other.dead).toBe(false);
    await other.kill();
  });

  it("stop() treats every member of the server's own spawner as a handler, as gevent kills its pool", async () => {
    const server = new StreamServer({ port: 0 }, () => sleep(60_000));
    await server.start();
    const extra = (server.spawner as Group).spawn(() => sleep(60_000));
    await using _client = await connect({ port: server.address.port, timeout: 1000 });
    await until(() => server.handlerCount === 2, 'the handler and the extra member');
    await server.stop(10);
    expect(extra.dead).toBe(true);
    expect(server.spawner.size).toBe(0);
  });

  it('hands connections to a given Group, and validates its options', async () => {
    const group = new Group();
    await using server = new StreamServer(
      { port: 0 },
      async (sock: Socket) => {
        await sock.readLine();
      },
      { spawn: group },
    );
    expect(server.spawner).toBe(group);
    await server.start();
    await using c = await connect({ port: server.address.port, timeout: 1000 });
    await until(() => group.size === 1, 'the handler in the group');
    await c.write('bye\n');
    await until(() => group.size === 0, 'the handler to end');
    const pool = new Pool(3);
    expect(new StreamServer({ port: 0 }, () => {}, { spawn: pool }).spawner).toBe(pool);
    expect(() => new StreamServer({ port: 0 }, () => {}, { maxAccept: 0 })).toThrow(/maxAccept/);
    expect(() => new StreamServer({ port: 0 }, 'nope' as never)).toThrow(/handler function/);
    expect(() => new StreamServer({ port: 0 }, () => {}, { spawn: 0 })).toThrow(/Pool size/);
  });
});
