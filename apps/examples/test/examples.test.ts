import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { hubsUnderTest, requiredHubs } from '@greenhub/core/testing';
import { describe, expect, it } from 'vitest';

const execFileAsync = promisify(execFile);

/** Run `src/examples/<name>.mjs` on `hub` as a user would; it must exit 0 by itself within 15 s. */
async function runExample(name: string, hub: string): Promise<string> {
  const file = fileURLToPath(new URL(`../src/examples/${name}.mjs`, import.meta.url));
  const { stdout, stderr } = await execFileAsync(process.execPath, [file], {
    env: { ...process.env, GREENHUB_HUB: hub },
    timeout: 15_000,
  });
  expect(stderr).toBe('');
  return stdout;
}

/** The numbers of `lines` matching `pattern` (its first group), in order. */
function numbers(stdout: string, pattern: RegExp): number[] {
  return [...stdout.matchAll(new RegExp(pattern, 'g'))].map((m) => Number(m[1]));
}

for (const hub of hubsUnderTest()) {
  const skip = !hub.available && !requiredHubs().includes(hub.name);

  describe.skipIf(skip)(`the examples on hub ${hub.name}`, () => {
    it('echoserver echoes what three concurrent clients send, then stops', async () => {
      const out = await runExample('echoserver', hub.name);
      expect(out).toMatch(new RegExp(`^echo server on hub ${hub.name}, port \\d+\\n`));
      for (const name of ['alice', 'bob', 'carol'])
        expect(out).toContain(`client got back: hello from ${name}\n`);
      expect(out.match(/server: new connection from 127\.0\.0\.1:\d+/g)).toHaveLength(3);
      expect(out.match(/server: 127\.0\.0\.1:\d+ left/g)).toHaveLength(3);
    });

    it('portforwarder carries lines to the target and its replies back, and passes the end on', async () => {
      const out = await runExample('portforwarder', hub.name);
      expect(out).toMatch(new RegExp(`hub ${hub.name}: target on (\\d+), forwarder on \\d+`));
      const target = out.match(/target on (\d+)/)?.[1];
      expect(out).toContain(`-> 127.0.0.1:${target}\n`);
      expect(out).toContain('client got: HELLO THROUGH THE FORWARDER\nclient got: SECOND LINE\n');
      expect(out).toContain('client: end of stream after end(): true');
    });

    it('http-hello answers fetch with its status, content type and body', async () => {
      const out = await runExample('http-hello', hub.name);
      expect(out).toMatch(new RegExp(`serving on http://127\\.0\\.0\\.1:\\d+ \\(hub ${hub.name}\\)`));
      expect(out).toContain('GET / -> 200 text/html: <b>hello world</b>\n');
      expect(out).toContain(`GET /json -> 200 application/json: {"hub":"${hub.name}","method":"GET"}\n`);
      expect(out).toContain('GET /missing -> 404 text/html: <h1>Not Found</h1>\n');
    });

    it('concurrent-download runs four downloads at a time and cuts the slow one short', async () => {
      const out = await runExample('concurrent-download', hub.name);
      for (let i = 1; i <= 8; i++) expect(out).toContain(`/page${i} -> 200 "page /page${i} after 200 ms"`);
      expect(out).toMatch(/ms: \/slow -> timed out after 500 ms/);
      expect(out).toContain('most requests in flight at once on the server: 4\n');
      // Two waves of four 200 ms pages, then the slow page's 500 ms timeout: far below 8 x 200 + 500 ms.
      const [total] = numbers(out, /all done in (\d+) ms/);
      expect(total).toBeGreaterThanOrEqual(900);
      expect(total).toBeLessThan(2100);
      const finished = numbers(out, / {2}(\d+) ms: \/page/).sort((a, b) => a - b);
      expect(finished).toHaveLength(8);
      expect(finished[3]! - finished[0]!).toBeLessThan(150); // the first four ran together...
      expect(finished[4]! - finished[0]!).toBeGreaterThanOrEqual(150); // ...the fifth waited for a free slot
    });

    it('udp sends three datagrams and gets each one echoed by the DatagramServer', async () => {
      const out = await runExample('udp', hub.name);
      const port = out.match(/UDP echo server on 127\.0\.0\.1:(\d+)/)?.[1];
      expect(port).toBeDefined();
      for (const word of ['ping', 'hello', 'bye']) {
        expect(out).toMatch(new RegExp(`server: 127\\.0\\.0\\.1:\\d+ sent "${word}"`));
        expect(out).toContain(`client: got "echo: ${word}" from port ${port}\n`);
      }
    });

    it('producer-consumer processes every job once, never queues more than 3, and join() sees them done', async () => {
      const out = await runExample('producer-consumer', hub.name);
      for (const producer of ['alpha', 'beta']) {
        for (let i = 1; i <= 6; i++)
          expect(out.match(new RegExp(`did ${producer}-${i}\\n`, 'g'))).toHaveLength(1);
      }
      expect(Math.max(...numbers(out, /\(queued: (\d+)\)/))).toBeLessThanOrEqual(3);
      expect(out).toContain('all jobs done; unfinished tasks: 0\n');
      expect(out).toMatch(/consumers finished: .*worker-a=\d+.*; total 12\n/);
      expect(out.indexOf('all jobs done')).toBeGreaterThan(out.lastIndexOf(' did '));
    });

    it('threadpool computes on worker threads while the ticker ticks, unlike on the hub thread', async () => {
      const out = await runExample('threadpool', hub.name);
      expect(out).toContain('thread pool: 5702887, 5702887, 5702887, 5702887 in');
      expect(out).toContain('on the hub thread: 5702887 in');
      const [workerTicks] = numbers(out, /ticks while the workers computed: (\d+)/);
      expect(workerTicks).toBeGreaterThan(0);
      expect(out).toContain('ticks while the hub thread computed: 0\n');
    });

    it('subprocess runs ls and sh, talks to a child line by line and kills one on timeout', async () => {
      const out = await runExample('subprocess', hub.name);
      expect(out).toContain('ls: exit 0, lists subprocess.mjs: true\n');
      expect(out).toContain('sh -c: exit 3, stdout "HELLO", stderr "oops"\n');
      expect(out).toContain('child: you said: hi\nchild: you said: bye\nchild: exit 0\n');
      const [ms] = numbers(out, /sleep 30: ETIMEDOUT after (\d+) ms/);
      expect(ms).toBeGreaterThanOrEqual(195);
      expect(ms).toBeLessThan(5000);
      expect(out).toContain('the ticker kept ticking meanwhile: yes\n');
    });

    it('signals handles each SIGUSR1 it sends itself in a new greenlet', async () => {
      const out = await runExample('signals', hub.name);
      for (let i = 1; i <= 3; i++) {
        expect(out).toMatch(
          new RegExp(`sending SIGUSR1 #${i}\\nSIGUSR1 #${i} handled in greenlet signal:SIGUSR1#\\d+\\n`),
        );
      }
      expect(new Set(out.match(/signal:SIGUSR1#\d+/g)).size).toBe(3);
      expect(out).toMatch(/handler cancelled; exiting\n$/);
    });

    it('backdoor evaluates expressions, app locals and top-level await inside the process', async () => {
      const out = await runExample('backdoor', hub.name);
      expect(out).toContain(`banner: greenhub backdoor on hub ${hub.name}, Node.js ${process.version}\n`);
      expect(out).toContain('>>> 1 + 2\n3\n');
      expect(out).toContain('>>> app.requests * 2\n84\n');
      expect(out).toMatch(/>>> await sleep\(10\); getcurrent\(\)\.name\n'backdoor-eval:127\.0\.0\.1:\d+'\n/);
      expect(out).toMatch(new RegExp(`'hub ${hub.name} \\(\\w+\\); \\d+ live greenlet\\(s\\)'`));
    });

    it('dns-mass-resolve resolves every local name with both resolvers, none failing', async () => {
      const out = await runExample('dns-mass-resolve', hub.name);
      const [names, lookups] =
        out
          .match(/(\d+) local names, (\d+) lookups/)
          ?.slice(1)
          .map(Number) ?? [];
      expect(lookups).toBe((names ?? 0) * 25);
      for (const resolver of ['system', 'ares']) {
        expect(out).toMatch(
          new RegExp(
            `${resolver}: ${lookups} resolved, 0 failed, in \\d+ ms\\n  localhost -> 127\\.0\\.0\\.1\\n`,
          ),
        );
      }
    });

    it('tls-echo echoes over a verified TLS connection and refuses a client without the CA', async () => {
      const out = await runExample('tls-echo', hub.name);
      expect(out).toMatch(/client: TLSv1\.[23], certificate verified: true\n/);
      expect(out).toContain('client got: echo: hello over TLS\nclient got: echo: bye\n');
      expect(out).toContain('a client without the CA is refused: DEPTH_ZERO_SELF_SIGNED_CERT\n');
    });
  });
}
