import { getHub, sleep } from '@greenhub/core';
import { describeEachHub } from '@greenhub/core/testing';
import { expect, it } from 'vitest';
import { BACKDOOR_PROMPT, BackdoorServer } from '../src/backdoor.js';
import { connect } from '../src/connect.js';
import { listen } from '../src/listener.js';
import type { Socket } from '../src/socket.js';
import { caught, text } from './sockets-helpers.js';

/** Read up to and including the next prompt (bounded: the socket's timeout applies). */
async function untilPrompt(sock: Socket): Promise<string> {
  return text(await sock.readUntil(BACKDOOR_PROMPT)) ?? '';
}

/** Send one line and return the output up to the next prompt (without it). */
async function evaluate(sock: Socket, line: string): Promise<string> {
  await sock.write(`${line}\n`);
  const out = await untilPrompt(sock);
  return out.slice(0, -BACKDOOR_PROMPT.length);
}

/** Yield until the server has no session left (bounded: fails after ~2 s). */
async function untilNoHandler(server: BackdoorServer): Promise<void> {
  const deadline = performance.now() + 2000;
  while (server.handlerCount > 0) {
    if (performance.now() > deadline) throw new Error('a session is still running');
    await sleep(1);
  }
}

async function session(server: BackdoorServer): Promise<[Socket, string]> {
  const sock = await connect({ port: server.address.port, timeout: 2000 });
  sock.timeout = 2000;
  return [sock, await untilPrompt(sock)];
}

describeEachHub('BackdoorServer', (hubName) => {
  it('greets with a banner naming the hub, prompts, and evaluates', async () => {
    const server = new BackdoorServer();
    await server.start();
    expect(server.address.address).toBe('127.0.0.1');
    const [sock, greeting] = await session(server);
    try {
      expect(greeting).toContain('greenhub');
      expect(greeting).toContain(hubName);
      expect(greeting).toContain(getHub().name);
      expect(greeting).toContain(process.version);
      expect(greeting.endsWith('>>> ')).toBe(true);
      expect(await evaluate(sock, '1 + 2')).toContain('3');
      expect(await evaluate(sock, 'throw new Error("boom")')).toContain('boom');
      expect(await evaluate(sock, '40 + 2')).toContain('42');
    } finally {
      sock.close();
      await server.stop();
    }
  });

  it('puts locals and the core helpers in the context', async () => {
    const app = { name: 'my-app', count: 7 };
    const server = new BackdoorServer({ port: 0 }, { locals: { app } });
    await server.start();
    const [sock] = await session(server);
    try {
      expect(await evaluate(sock, 'app.name + ":" + app.count')).toContain('my-app:7');
      const info = await evaluate(sock, 'console.log(formatRunInfo())');
      expect(info).toContain('live greenlet');
      expect(info).toContain('BackdoorServer');
      expect(info).toContain('handler:');
      expect(await evaluate(sock, 'typeof hubMetrics().greenlets')).toContain('number');
      expect(await evaluate(sock, 'getcurrent().name')).toContain('backdoor-eval:');
      expect(await evaluate(sock, 'await spawn(async () => 6 * 7).get()')).toContain('42');
      // .clear gives a fresh context, with the helpers and locals put back.
      await evaluate(sock, 'var gone = 1');
      await evaluate(sock, '.clear');
      expect(await evaluate(sock, 'typeof gone + "/" + typeof sleep + "/" + app.name')).toContain(
        'undefined/function/my-app',
      );
    } finally {
      sock.close();
      await server.stop();
    }
  });

  it('supports top-level await', async () => {
    const server = new BackdoorServer(undefined, { banner: 'hello there' });
    await server.start();
    const [sock, greeting] = await session(server);
    try {
      expect(greeting).toBe('hello there\n>>> ');
      expect(await evaluate(sock, "await sleep(5); 'done'")).toContain("'done'");
      expect(await evaluate(sock, 'const x = await Promise.resolve(5); x * 2')).toContain('10');
    } finally {
      sock.close();
      await server.stop();
    }
  });

  it('.exit closes the connection and ends the handler', async () => {
    const server = new BackdoorServer();
    await server.start();
    const [sock] = await session(server);
    try {
      await sock.write('.exit\n');
      expect(await sock.read()).toBeNull();
      await untilNoHandler(server);
    } finally {
      sock.close();
      await server.stop();
    }
  });

  it('ends the session when the client closes', async () => {
    const server = new BackdoorServer();
    await server.start();
    const [sock] = await session(server);
    expect(server.handlerCount).toBe(1);
    sock.close();
    await untilNoHandler(server);
    await server.stop();
  });

  it('keeps two sessions independent', async () => {
    const server = new BackdoorServer();
    await server.start();
    const [a] = await session(server);
    const [b] = await session(server);
    try {
      await evaluate(a, 'var only = "in a"');
      expect(await evaluate(a, 'only')).toContain("'in a'");
      expect(await evaluate(b, 'typeof only')).toContain("'undefined'");
      // A slow evaluation in one session does not hold up the other.
      await a.write('await sleep(200); "slow"\n');
      expect(await evaluate(b, '1 + 1')).toContain('2');
      expect(await untilPrompt(a)).toContain("'slow'");
    } finally {
      a.close();
      b.close();
      await server.stop();
    }
  });

  it('stop() closes open sessions, killing a running evaluation', async () => {
    const server = new BackdoorServer();
    await server.start();
    const [a] = await session(server);
    const [b] = await session(server);
    try {
      await b.write('await sleep(60_000)\n');
      await server.stop(50);
      expect(server.handlerCount).toBe(0);
      for (const s of [a, b]) {
        let chunk: Uint8Array | null;
        do chunk = await s.read();
        while (chunk !== null);
      }
    } finally {
      a.close();
      b.close();
    }
  });

  it('refuses a non-loopback host unless allowRemote', async () => {
    expect(() => new BackdoorServer({ host: '0.0.0.0', port: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_BACKDOOR_NOT_LOOPBACK' }),
    );
    const listener = listen({ host: '0.0.0.0', port: 0 });
    try {
      expect(await caught(Promise.resolve().then(() => new BackdoorServer(listener)))).toMatchObject({
        code: 'ERR_BACKDOOR_NOT_LOOPBACK',
      });
    } finally {
      listener.close();
    }
    const server = new BackdoorServer({ host: '0.0.0.0', port: 0 }, { allowRemote: true });
    await server.start();
    expect(server.address.address).toBe('0.0.0.0');
    await server.stop();
    const local = new BackdoorServer({ host: 'localhost', port: 0 });
    await local.start();
    await local.stop();
  });
});
