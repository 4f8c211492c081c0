import { connect } from 'node:net';
import { hubsUnderTest, requiredHubs } from '@greenhub/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Demo, get, openEvents, startDemo } from './demo-process.js';

interface Stats {
  hub: string;
  listeners: number;
  messages: number;
  greenlets: string[];
}

async function stats(demo: Demo): Promise<Stats> {
  return (await (await get(new URL('stats', demo.chat))).json()) as Stats;
}

/** Poll /stats until `cond` holds (bounded). */
async function statsUntil(demo: Demo, cond: (s: Stats) => boolean, what: string, ms = 5000): Promise<Stats> {
  const deadline = performance.now() + ms;
  for (;;) {
    const s = await stats(demo);
    if (cond(s)) return s;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function post(demo: Demo, body: unknown): Promise<Response> {
  return get(new URL('send', demo.chat), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

const isMessage = (text: string) => (e: { event: string; data: string }) =>
  e.event === 'message' && (JSON.parse(e.data) as { text: string }).text === text;

describe('the npm start demo', () => {
  for (const hub of hubsUnderTest()) {
    const skip = !hub.available && !requiredHubs().includes(hub.name);
    describe.skipIf(skip)(`on hub ${hub.name}`, { timeout: 30_000 }, () => {
      let demo: Demo;
      beforeAll(async () => {
        demo = await startDemo(hub.name);
      }, 30_000);
      afterAll(() => demo?.kill());

      it('prints the chat and echo URLs, the hub in use and how to switch hubs', () => {
        const out = demo.stdout();
        expect(out).toContain(`greenhub demo on hub '${hub.name}'`);
        expect(out).toMatch(/GREENHUB_HUB=\w+ npm start/);
        expect(out).toContain('Ctrl-C');
        expect(demo.chat.port).not.toBe('0');
        expect(demo.echo.port).toBeGreaterThan(0);
      });

      it('serves the chat page at GET /: self-contained, with a strict CSP', async () => {
        const res = await get(demo.chat);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
        expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'sha256-/);
        const html = await res.text();
        expect(html).toContain('<title>greenhub chat</title>');
        expect(html).toContain(`on hub ${hub.name}`);
        expect(html).toContain("new EventSource('/events')");
        expect(html).not.toMatch(/(?:src|href)=["']?(?:https?:)?\/\//); // no external resources
      });

      it('delivers a posted message to an open SSE stream', async () => {
        const events = await openEvents(new URL('events', demo.chat));
        try {
          expect(events.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
          const res = await post(demo, { name: 'alice', text: 'hello, <b>world</b>' });
          expect(res.status).toBe(201);
          const posted = (await res.json()) as { id: number };
          const e = await events.waitFor(isMessage('hello, <b>world</b>'), 10_000, 'with the posted message');
          expect(e.id).toBe(String(posted.id));
          expect(JSON.parse(e.data)).toMatchObject({
            id: posted.id,
            name: 'alice',
            text: 'hello, <b>world</b>',
          });
        } finally {
          events.close();
        }
      });

      it('accepts a form post too, answering with a redirect to the page', async () => {
        const res = await get(new URL('send', demo.chat), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ name: 'bob', text: 'from a form\nwith a newline' }).toString(),
          redirect: 'manual',
        });
        expect(res.status).toBe(303);
        expect(res.headers.get('location')).toBe('/');
      });

      it('sends recent history to a listener that joins later', async () => {
        const late = await openEvents(new URL('events', demo.chat));
        try {
          await late.waitFor(isMessage('hello, <b>world</b>'), 10_000, 'from the history');
          const form = await late.waitFor(
            isMessage('from a form with a newline'),
            10_000,
            'posted as a form',
          );
          expect(JSON.parse(form.data).name).toBe('bob');
        } finally {
          late.close();
        }
      });

      it('refuses empty messages, unknown paths and wrong methods', async () => {
        expect((await post(demo, { name: 'x', text: '  ' })).status).toBe(400);
        expect((await post(demo, 'not an object')).status).toBe(400);
        const malformed = await get(new URL('send', demo.chat), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"text": ',
        });
        expect(malformed.status).toBe(400);
        expect((await post(demo, { text: 'x'.repeat(20_000) })).status).toBe(413);
        expect((await get(new URL('send', demo.chat), { method: 'POST', body: 'x' })).status).toBe(415);
        expect((await get(new URL('nope', demo.chat))).status).toBe(404);
        const wrong = await get(new URL('send', demo.chat));
        expect(wrong.status).toBe(405);
        expect(wrong.headers.get('allow')).toBe('POST');
      });

      it('serves each SSE listener in its own greenlet and removes it once its client disconnects', async () => {
        const before = (await statsUntil(demo, (s) => s.listeners === 0, 'no listener')).listeners;
        const a = await openEvents(new URL('events', demo.chat));
        const b = await openEvents(new URL('events', demo.chat));
        try {
          const open = await statsUntil(demo, (s) => s.listeners === before + 2, 'two listeners');
          const waiting = open.greenlets.filter((line) => /handler:.*waiting on Queue\.get/.test(line));
          expect(waiting.length).toBeGreaterThanOrEqual(2);
          a.close();
          await statsUntil(demo, (s) => s.listeners === before + 1, 'the first listener to leave');
          await b.waitFor(
            (e) => e.event === 'presence' && e.data === String(before + 1),
            10_000,
            'presence 1',
          );
        } finally {
          a.close();
          b.close();
        }
        const after = await statsUntil(demo, (s) => s.listeners === before, 'both listeners to leave');
        expect(after.greenlets.filter((line) => line.includes('Queue.get'))).toHaveLength(1); // the broadcaster
      });

      it('echoes bytes on its TCP echo server', async () => {
        const sock = connect({ host: demo.echo.host, port: demo.echo.port });
        try {
          sock.setTimeout(10_000, () => sock.destroy(new Error('echo timed out')));
          await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
          const payload = Buffer.from('ping ✓\n'.repeat(1000));
          sock.write(payload);
          let got = Buffer.alloc(0);
          for await (const chunk of sock) {
            got = Buffer.concat([got, chunk as Buffer]);
            if (got.length >= payload.length) break;
          }
          expect(got.equals(payload)).toBe(true);
        } finally {
          sock.destroy();
        }
      });

      it('stops on SIGINT with an SSE stream open: prints its goodbye and exits with code 0', async () => {
        const open = await openEvents(new URL('events', demo.chat));
        try {
          await open.waitFor((e) => e.event === 'presence', 10_000, 'presence');
          const started = performance.now();
          demo.child.kill('SIGINT');
          const { code, signal } = await demo.exited(8000);
          expect(demo.stdout()).toContain('SIGINT received: stopping...');
          expect(demo.stdout()).toMatch(/stopped: \d+ message\(s\), \d+ listener\(s\) served\. Bye!/);
          expect({ code, signal }).toEqual({ code: 0, signal: null });
          expect(performance.now() - started).toBeLessThan(5000);
          expect(demo.stderr()).toBe('');
        } finally {
          open.close();
        }
      });
    });
  }
});
