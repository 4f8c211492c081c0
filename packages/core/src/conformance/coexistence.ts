import { execFile, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import dns from 'node:dns';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import type { HubTest, Suite } from './internal/harness.js';
import { useHub } from './internal/harness.js';
import { deferred, within } from './internal/wait.js';

/**
 * The hub's own timer period while these checks run. A hub that makes Node's
 * I/O wait for the hub's next wake-up would make a check take about this long;
 * each check must finish well inside it.
 */
const HUB_PERIOD_MS = 2000;
const BOUND_MS = 1000;

/** Make the hub busy the way an application's hub is: a repeating timer and a started listener. */
function keepHubActive(t: HubTest, periodMs: number): void {
  const timer = t.hub.timer(periodMs, periodMs);
  t.defer(() => timer.close());
  timer.start(() => undefined);
  const listener = t.hub.listen({ host: '127.0.0.1', port: 0 });
  t.defer(() => listener.close());
  listener.start(
    (stream) => stream.close(),
    () => undefined,
  );
}

/** Time `work` from now, failing if it takes longer than `bound` ms. */
async function timed(what: string, bound: number, work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await within(bound * 3, what, work());
  const elapsed = performance.now() - start;
  expect(elapsed, `${what} took ${elapsed.toFixed(1)} ms alongside an active hub`).toBeLessThan(bound);
  return elapsed;
}

/** Node's own APIs keep working, promptly, in a process whose hub is active. */
export function coexistence(suite: Suite): void {
  describe("Node's APIs alongside an active hub", () => {
    const t = useHub(suite);

    it('setTimeout fires on time', async () => {
      keepHubActive(t(), HUB_PERIOD_MS);
      const elapsed = await timed('setTimeout(20)', BOUND_MS, () => new Promise((r) => setTimeout(r, 20)));
      expect(elapsed).toBeGreaterThanOrEqual(19);
    });

    it('setImmediate and process.nextTick run', async () => {
      keepHubActive(t(), HUB_PERIOD_MS);
      await timed('setImmediate', BOUND_MS, () => new Promise((r) => setImmediate(r)));
      await timed('process.nextTick', BOUND_MS, () => new Promise((r) => process.nextTick(r)));
    });

    it('promise chains settle', async () => {
      keepHubActive(t(), HUB_PERIOD_MS);
      await timed('1000 awaited promises', BOUND_MS, async () => {
        for (let i = 0; i < 1000; i++) await Promise.resolve(i);
      });
    });

    it('fs.promises writes and reads a file', async () => {
      keepHubActive(t(), HUB_PERIOD_MS);
      const dir = await mkdtemp(join(tmpdir(), 'greenhub-conformance-'));
      t().defer(() => rm(dir, { recursive: true, force: true }));
      await timed('fs.promises writeFile + readFile', BOUND_MS, async () => {
        await writeFile(join(dir, 'file.txt'), 'written alongside a hub');
        expect(await readFile(join(dir, 'file.txt'), 'utf8')).toBe('written alongside a hub');
      });
    });

    it('a node:net server and client exchange data', async () => {
      keepHubActive(t(), HUB_PERIOD_MS);
      const server = net.createServer((socket) => socket.pipe(socket));
      t().defer(() => new Promise((r) => server.close(r)));
      const sockets: net.Socket[] = [];
      server.on('connection', (s) => sockets.push(s));
      t().defer(() => {
        for (const s of sockets) s.destroy();
      });
      await timed('node:net listen + connect + echo', BOUND_MS, async () => {
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        const address = server.address();
        const port = typeof address === 'object' && address ? address.port : 0;
        const echoed = deferred<string>();
        const client = net.connect(port, '127.0.0.1', () => client.write('echo me'));
        t().defer(() => client.destroy());
        client.on('data', (d) => echoed.resolve(d.toString()));
        client.on('error', echoed.reject);
        expect(await echoed.promise).toBe('echo me');
      });
    });

    it("dns.lookup('localhost') resolves", async () => {
      keepHubActive(t(), HUB_PERIOD_MS);
      await timed("dns.lookup('localhost')", BOUND_MS, async () => {
        const { address } = await dns.promises.lookup('localhost');
        expect(net.isIP(address)).toBeGreaterThan(0);
      });
    });

    it('child_process.execFile runs a child and collects its output', async () => {
      keepHubActive(t(), HUB_PERIOD_MS);
      await timed('execFile(node -e ...)', BOUND_MS, async () => {
        const out = await new Promise<string>((resolve, reject) =>
          execFile(process.execPath, ['-e', 'process.stdout.write("child ok")'], (err, stdout) =>
            err ? reject(err) : resolve(stdout),
          ),
        );
        expect(out).toBe('child ok');
      });
    });

    it("a child process does not inherit the hub's sockets: their ports are free once the hub closes them", async () => {
      const { hub } = t();
      const listener = hub.listen({ host: '127.0.0.1', port: 0 });
      t().defer(() => listener.close());
      listener.start(
        () => undefined,
        () => undefined,
      );
      const udp = hub.udp({ host: '127.0.0.1', port: 0 });
      t().defer(() => udp.close());
      const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { stdio: 'ignore' });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      t().defer(async () => {
        child.kill('SIGKILL');
        await exited;
      });
      await within(2000, 'the child to start', new Promise((resolve) => child.once('spawn', resolve)));
      const { port } = listener.address;
      const udpPort = udp.address.port;
      listener.close();
      udp.close();
      const server = net.createServer();
      t().defer(() => new Promise((resolve) => server.close(resolve)));
      const listened = deferred();
      server.once('error', listened.reject);
      server.listen(port, '127.0.0.1', () => listened.resolve());
      await within(2000, "listening again on the hub listener's port", listened.promise);
      const socket = dgram.createSocket('udp4');
      t().defer(() => socket.close());
      const bound = deferred();
      socket.once('error', bound.reject);
      socket.bind(udpPort, '127.0.0.1', () => bound.resolve());
      await within(2000, "binding the hub datagram socket's port again", bound.promise);
    });

    it('a worker_threads Worker starts and answers a message', async () => {
      keepHubActive(t(), HUB_PERIOD_MS);
      await timed('a Worker round trip', BOUND_MS, async () => {
        const worker = new Worker(
          "import('node:worker_threads').then(({ parentPort }) => parentPort.on('message', (m) => parentPort.postMessage(m * 2)));",
          { eval: true },
        );
        t().defer(() => worker.terminate());
        const answer = deferred<number>();
        worker.on('message', answer.resolve);
        worker.on('error', answer.reject);
        worker.postMessage(21);
        expect(await answer.promise).toBe(42);
        await worker.terminate();
      });
    });
  });
}
