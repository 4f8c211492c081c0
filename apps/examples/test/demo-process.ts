// Start `src/demo.mjs` in a child process on a given hub, on free ports, and
// read back what it printed; plus a Server-Sent Events reader over fetch.
// Shared by demo.test.ts and browser.test.ts. Every wait here is bounded.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const demoPath = fileURLToPath(new URL('../src/demo.mjs', import.meta.url));

/** A running demo. */
export interface Demo {
  child: ChildProcess;
  /** The chat's base URL, e.g. `http://127.0.0.1:40123/`. */
  chat: URL;
  echo: { host: string; port: number };
  /** Everything printed so far. */
  stdout(): string;
  stderr(): string;
  /** Wait until stdout matches `pattern`. */
  waitForOutput(pattern: RegExp, ms: number): Promise<RegExpMatchArray>;
  /** Wait for the process to exit. */
  exited(ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL it if it still runs (always safe to call). */
  kill(): void;
}

/** Start the demo with PORT=0 ECHO_PORT=0 on `hub` and wait until it printed its whole banner. */
export async function startDemo(hub: string, ms = 15_000): Promise<Demo> {
  const child = spawn(process.execPath, [demoPath], {
    env: { ...process.env, GREENHUB_HUB: hub, PORT: '0', ECHO_PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const changed = new EventTarget();
  child.stdout?.setEncoding('utf8').on('data', (s: string) => {
    out += s;
    changed.dispatchEvent(new Event('change'));
  });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    err += s;
  });
  const exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const notify = (): void => {
    changed.dispatchEvent(new Event('change'));
  };
  exit.then(notify, notify); // a failed spawn rejects it: exited() reports that

  const waitForOutput = (pattern: RegExp, limit: number): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const m = out.match(pattern);
        if (m) done(() => resolve(m));
        else if (child.exitCode !== null || child.signalCode !== null) {
          done(() => reject(new Error(`the demo exited before printing ${pattern}:\n${out}\n${err}`)));
        }
      };
      const timer = setTimeout(
        () =>
          done(() => reject(new Error(`no ${pattern} from the demo within ${limit} ms:\n${out}\n${err}`))),
        limit,
      );
      const done = (settle: () => void): void => {
        clearTimeout(timer);
        changed.removeEventListener('change', check);
        settle();
      };
      changed.addEventListener('change', check);
      check();
    });

  const demo: Demo = {
    child,
    chat: new URL('http://invalid/'),
    echo: { host: '', port: 0 },
    stdout: () => out,
    stderr: () => err,
    waitForOutput,
    exited: async (limit) => {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the demo did not exit within ${limit} ms:\n${out}\n${err}`)),
          limit,
        );
      });
      try {
        const [code, signal] = await Promise.race([exit, timedOut]);
        return { code, signal };
      } finally {
        clearTimeout(timer);
      }
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
  try {
    const [, chat] = await waitForOutput(/chat: +(http:\/\/\S+)/, ms);
    const [, host, port] = await waitForOutput(/echo: +tcp:\/\/(\S+):(\d+)/, ms);
    await waitForOutput(/Ctrl-C stops it\./, ms); // the banner's last line
    demo.chat = new URL(chat!);
    demo.echo = { host: host!, port: Number(port) };
  } catch (e) {
    demo.kill();
    throw e;
  }
  return demo;
}

/** One Server-Sent Event. */
export interface ServerSentEvent {
  event: string;
  data: string;
  id?: string;
}

/** An open `text/event-stream` response, read with Node's fetch. */
export interface EventStream {
  response: Response;
  /** Every event received so far. */
  seen: ServerSentEvent[];
  /** The first event `match` accepts, among those received so far or arriving within `ms`. */
  waitFor(match: (e: ServerSentEvent) => boolean, ms: number, what: string): Promise<ServerSentEvent>;
  /** Disconnect (aborts the fetch, closing its connection). */
  close(): void;
}

/** Open an SSE stream at `url` (bounded by `ms` until the response head arrives). */
export async function openEvents(url: URL, ms = 10_000): Promise<EventStream> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`no response from ${url} within ${ms} ms`)), ms);
  let response: Response;
  try {
    response = await fetch(url, { signal: controller.signal, headers: { accept: 'text/event-stream' } });
  } finally {
    clearTimeout(timer);
  }
  if (!response.ok || response.body === null) throw new Error(`GET ${url}: ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const seen: ServerSentEvent[] = [];
  let buffer = '';

  /** Read until one more event is parsed; false at the end of the stream. */
  const readEvent = async (): Promise<boolean> => {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const e: ServerSentEvent = { event: 'message', data: '' };
        const data: string[] = [];
        for (const line of frame.split('\n')) {
          const colon = line.indexOf(':');
          if (colon === 0) continue; // a comment (ping)
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') e.event = value;
          else if (field === 'data') data.push(value);
          else if (field === 'id') e.id = value;
        }
        if (data.length === 0) continue;
        e.data = data.join('\n');
        seen.push(e);
        return true;
      }
      const { done, value } = await reader.read();
      if (done) return false;
      buffer += value;
    }
  };

  return {
    response,
    seen,
    async waitFor(match, limit, what) {
      const timer = setTimeout(
        () => controller.abort(new Error(`no event ${what} within ${limit} ms; got ${JSON.stringify(seen)}`)),
        limit,
      );
      try {
        for (;;) {
          const found = seen.find(match);
          if (found) return found;
          if (!(await readEvent())) throw new Error(`the stream ended before an event ${what}`);
        }
      } catch (err) {
        throw controller.signal.aborted ? controller.signal.reason : err;
      } finally {
        clearTimeout(timer);
      }
    },
    close() {
      controller.abort();
    },
  };
}

/** Fetch with a bound. */
export function get(url: URL | string, init: RequestInit = {}, ms = 10_000): Promise<Response> {
  return fetch(url, { ...init, signal: AbortSignal.timeout(ms) });
}
