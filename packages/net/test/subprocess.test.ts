import { readdirSync, readFileSync } from 'node:fs';
import { GreenletExit, sleep, spawn, Timeout, withTimeout } from '@greenhub/core';
import { describeEachHub } from '@greenhub/core/testing';
import { expect, it } from 'vitest';
import { runProcess, spawnProcess } from '../src/subprocess.js';

const NODE = process.execPath;
const SH = '/bin/sh';

async function caught(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (err: unknown) => err,
  );
}

const str = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/** Wait (bounded) until `pid` no longer exists: it was killed and reaped. */
async function expectGone(pid: number): Promise<void> {
  for (let i = 0; i < 200 && alive(pid); i++) await sleep(10);
  expect(alive(pid), `process ${pid} still exists`).toBe(false);
}

describeEachHub('runProcess', () => {
  it('collects stdout and stderr and returns the exit code', async () => {
    const r = await runProcess(SH, ['-c', 'echo out; echo err >&2; exit 3'], { timeout: 10_000 });
    expect(r.exitCode).toBe(3);
    expect(r.signal).toBeNull();
    expect(str(r.stdout)).toBe('out\n');
    expect(str(r.stderr)).toBe('err\n');
  });

  it('pipes input through cat (string and bytes)', async () => {
    const a = await runProcess('cat', [], { input: 'hello\nworld\n', timeout: 10_000 });
    expect(a.exitCode).toBe(0);
    expect(str(a.stdout)).toBe('hello\nworld\n');
    const bytes = new Uint8Array(256).map((_, i) => i);
    const b = await runProcess('cat', [], { input: bytes, timeout: 10_000 });
    expect(Buffer.compare(b.stdout, bytes)).toBe(0);
    const c = await runProcess('cat', [], { timeout: 10_000 });
    expect(c.stdout.length).toBe(0);
  });

  it('moves 1 MiB each way on stdin, stdout and stderr without deadlock', async () => {
    const input = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < input.length; i++) input[i] = (i * 7) & 0xff;
    const code =
      "const c=[];process.stdin.on('data',d=>c.push(d));process.stdin.on('end',()=>{const b=Buffer.concat(c);" +
      'process.stderr.write(Buffer.alloc(b.length, 0x65));process.stdout.write(b);});';
    const r = await runProcess(NODE, ['-e', code], { input, timeout: 20_000 });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.length).toBe(input.length);
    expect(Buffer.compare(r.stdout, input)).toBe(0);
    expect(r.stderr.length).toBe(input.length);
    expect(r.stderr.every((x) => x === 0x65)).toBe(true);
  });

  it('reports a death by signal, and a non-zero exit is not an error', async () => {
    const r = await runProcess(SH, ['-c', 'kill -TERM $$'], { timeout: 10_000 });
    expect(r.exitCode).toBeNull();
    expect(r.signal).toBe('SIGTERM');
    const f = await runProcess(SH, ['-c', 'exit 1'], { timeout: 10_000 });
    expect(f.exitCode).toBe(1);
  });

  it('honours cwd and env', async () => {
    const r = await runProcess(SH, ['-c', 'pwd; echo "$GH_X"'], {
      cwd: '/',
      env: { GH_X: 'yes', PATH: '/usr/bin:/bin' },
    });
    expect(str(r.stdout)).toBe('/\nyes\n');
  });

  it('rejects with ENOENT for a missing command', async () => {
    const err = await caught(runProcess('/nonexistent/greenhub-no-such-command', [], { timeout: 10_000 }));
    expect(err).toMatchObject({ code: 'ENOENT' });
  });

  it('on timeout kills the child (SIGKILL, even if it ignores SIGTERM), reaps it and throws Timeout', async () => {
    const code = "process.on('SIGTERM',()=>{});setInterval(()=>{},1000);/*gh-timeout*/";
    const t0 = Date.now();
    const finder = spawn(async () => {
      await sleep(300);
      return findChild('gh-timeout');
    });
    const err = await caught(runProcess(NODE, ['-e', code], { timeout: 700 }));
    const pid = await finder.get();
    expect(pid).toBeGreaterThan(0);
    expect(err).toBeInstanceOf(Timeout);
    expect(err).toMatchObject({ code: 'ETIMEDOUT' });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(alive(pid)).toBe(false); // already reaped when runProcess threw
  });

  it('killing the greenlet waiting in runProcess kills the child: no zombie left', async () => {
    const g = spawn(() => runProcess(SH, ['-c', 'exec sleep 30'], { timeout: 20_000 }));
    await sleep(300);
    const pid = findChild('sleep 30');
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid)).toBe(true);
    await g.kill(new GreenletExit('stop'));
    expect(g.dead).toBe(true);
    expect(g.successful()).toBe(true); // GreenletExit: a successful kill
    expect(alive(pid)).toBe(false); // reaped before the greenlet ended
    await expectGone(pid);
  });

  it('an aborted signal kills the child and rejects with the reason', async () => {
    const ac = new AbortController();
    const reason = new Error('enough');
    const finder = spawn(async () => {
      await sleep(300);
      const found = findChild('sleep 31');
      ac.abort(reason);
      return found;
    });
    const err = await caught(runProcess(SH, ['-c', 'exec sleep 31'], { signal: ac.signal }));
    const pid = await finder.get();
    expect(pid).toBeGreaterThan(0);
    expect(err).toBe(reason);
    await expectGone(pid);
  });
});

/** The pid of a direct child of this process whose command line contains `marker`, or 0. */
function findChild(marker: string): number {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ');
      if (ppid === process.pid && cmd.includes(marker)) return Number(name);
    } catch {
      // gone meanwhile
    }
  }
  return 0;
}

describeEachHub('spawnProcess', () => {
  it('speaks a line protocol with a node child', async () => {
    const code =
      "const rl=require('node:readline').createInterface({input:process.stdin});" +
      "rl.on('line',l=>{if(l==='quit'){rl.close();return;}process.stdout.write(l.toUpperCase()+'\\n');});";
    await using proc = spawnProcess(NODE, ['-e', code]);
    expect(proc.pid).toBeGreaterThan(0);
    for (const word of ['hello', 'green', 'hub']) {
      await proc.stdin.write(`${word}\n`);
      expect(await proc.stdout.readLine()).toBe(word.toUpperCase());
    }
    await proc.stdin.write('quit\n');
    await proc.stdin.end();
    expect(await proc.stdout.readLine()).toBeNull();
    expect(await proc.wait(10_000)).toBe(0);
    expect(proc.exitCode).toBe(0);
    expect(proc.signalCode).toBeNull();
  });

  it('reads stdout and stderr by chunk, by iteration and with readAll', async () => {
    await using proc = spawnProcess(SH, ['-c', 'printf "a\\nb\\r\\nc"; printf "E1\\nE2\\n" >&2']);
    expect(await proc.stdout.readLine()).toBe('a');
    expect(await proc.stdout.readLine()).toBe('b');
    expect(await proc.stdout.readLine()).toBe('c');
    expect(await proc.stdout.readLine()).toBeNull();
    expect(await proc.stdout.read()).toBeNull();
    const parts: string[] = [];
    for await (const chunk of proc.stderr) parts.push(str(chunk));
    expect(parts.join('')).toBe('E1\nE2\n');
    expect(await proc.wait(10_000)).toBe(0);
    await using cat = spawnProcess('cat');
    await cat.stdin.write('x'.repeat(100));
    await cat.stdin.end();
    expect(str(await cat.stdout.readAll())).toBe('x'.repeat(100));
    expect(await cat.wait()).toBe(0);
  });

  it('streams 1 MiB through cat with write backpressure, reading concurrently', async () => {
    const data = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 13) & 0xff;
    await using proc = spawnProcess('cat');
    const reader = spawn(() => proc.stdout.readAll());
    for (let off = 0; off < data.length; off += 64 * 1024)
      await proc.stdin.write(data.subarray(off, off + 64 * 1024));
    await proc.stdin.end();
    const got = await reader.get({ timeout: 20_000 });
    expect(Buffer.compare(got, data)).toBe(0);
    expect(await proc.wait(10_000)).toBe(0);
  });

  it('wait(timeout) throws Timeout and leaves the child running; kill(signal) ends it', async () => {
    await using proc = spawnProcess(SH, ['-c', 'exec sleep 30']);
    const err = await caught(proc.wait(100));
    expect(err).toBeInstanceOf(Timeout);
    expect(err).toMatchObject({ code: 'ETIMEDOUT' });
    expect(proc.exited).toBe(false);
    expect(alive(proc.pid!)).toBe(true);
    const waiters = [spawn(() => proc.wait()), spawn(() => proc.wait())];
    expect(proc.kill('SIGINT')).toBe(true);
    expect(await waiters[0]!.get({ timeout: 10_000 })).toBeNull();
    expect(await waiters[1]!.get({ timeout: 10_000 })).toBeNull();
    expect(await proc.wait()).toBeNull();
    expect(proc.signalCode).toBe('SIGINT');
    expect(proc.kill()).toBe(false);
    expect(alive(proc.pid!)).toBe(false);
  });

  it('wait() returns the exit code; a greenlet killed in wait() leaves the child alone', async () => {
    await using proc = spawnProcess(SH, ['-c', 'read x; exit 7']);
    const g = spawn(() => proc.wait());
    await sleep(50);
    await g.kill();
    expect(proc.exited).toBe(false);
    await proc.stdin.write('go\n');
    expect(await proc.wait(10_000)).toBe(7);
  });

  it('a missing command: pid undefined and wait() rejects with ENOENT', async () => {
    await using proc = spawnProcess('/nonexistent/greenhub-no-such-command');
    expect(proc.pid).toBeUndefined();
    expect(await caught(proc.wait(10_000))).toMatchObject({ code: 'ENOENT' });
    expect(await proc.stdout.read()).toBeNull();
  });

  it('write after the child exited fails with EPIPE; write after end() fails', async () => {
    await using proc = spawnProcess(SH, ['-c', 'exit 0']);
    expect(await proc.wait(10_000)).toBe(0);
    let err: unknown;
    for (let i = 0; i < 50 && err === undefined; i++) err = await caught(proc.stdin.write('x'.repeat(65536)));
    expect(err).toMatchObject({ code: 'EPIPE' });
    await using cat = spawnProcess('cat');
    await cat.stdin.end();
    await cat.stdin.end();
    expect(await caught(cat.stdin.write('x'))).toMatchObject({ code: 'ERR_STREAM_WRITE_AFTER_END' });
    expect(await cat.wait(10_000)).toBe(0);
  });

  it('asyncDispose SIGKILLs a running child and reaps it', async () => {
    let pid = 0;
    {
      await using proc = spawnProcess(NODE, ['-e', "process.on('SIGTERM',()=>{});setInterval(()=>{},1000)"]);
      pid = proc.pid!;
      await proc.stdin.write('ignored\n');
    }
    expect(alive(pid)).toBe(false);
  });

  it('a second concurrent reader gets ConcurrentUse', async () => {
    await using proc = spawnProcess('cat');
    const r1 = spawn(() => proc.stdout.read());
    await sleep(20);
    expect(await caught(proc.stdout.read())).toMatchObject({ code: 'ERR_CONCURRENT_USE' });
    await proc.stdin.write('z');
    expect(str((await r1.get({ timeout: 10_000 }))!)).toBe('z');
    await proc.stdin.end();
    expect(await proc.wait(10_000)).toBe(0);
  });

  it('waits are core Waiters: named kinds, interrupted by withTimeout and kill', async () => {
    // sleep never reads stdin nor writes: the reader waits and the writer fills the pipe and blocks.
    await using proc = spawnProcess(SH, ['-c', 'exec sleep 33']);
    const reader = spawn(() => proc.stdout.readLine());
    const writer = spawn(async () => {
      for (;;) await proc.stdin.write(Buffer.alloc(64 * 1024));
    });
    const waiter = spawn(() => proc.wait());
    await sleep(100);
    expect(reader.waitingOn).toBe('process read');
    expect(waiter.waitingOn).toBe('process wait');
    await reader.kill();
    await waiter.kill();
    for (let i = 0; i < 100 && writer.waitingOn !== 'process write'; i++) await sleep(10);
    expect(writer.waitingOn).toBe('process write');
    await writer.kill();
    expect(await withTimeout(50, () => proc.stderr.read(), { fallback: 'timed out' })).toBe('timed out');
    expect(proc.exited).toBe(false);
  });
});
