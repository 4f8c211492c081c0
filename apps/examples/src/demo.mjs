// The greenhub demo (`npm start`): a web chat and a TCP echo server, on the default hub.
//
// - The chat is served by HttpServer: GET / is the page, POST /send posts a
//   message (JSON or a form), GET /events streams messages as Server-Sent
//   Events, GET /stats shows the room and every live greenlet.
// - Each SSE listener is served by its own greenlet (the one HttpServer runs
//   for its connection), blocked on its own Queue; a broadcaster greenlet
//   feeds those queues. A listener whose client goes away (request.signal) or
//   stops reading (its Queue fills) leaves the room.
// - Ctrl-C (SIGINT) or SIGTERM: run() kills the main greenlet; it ends the SSE
//   streams, stops both servers gracefully, prints "stopped" and exits with 0.
//
// Environment: PORT (default 8080), ECHO_PORT (8081), 0 = any free port;
// HOST (127.0.0.1); GREENHUB_HUB=pure (or libev) picks the hub.
import { createHash } from 'node:crypto';
import { formatRunInfo, GreenletExit, getHub, run, spawn } from '@greenhub/core';
import { Response, StreamServer, serve } from '@greenhub/net';
import { Event, Queue, QueueEmpty, QueueFull, QueueShutDown } from '@greenhub/sync';

/** Messages a new listener is sent first. */
const HISTORY = 50;
/** Frames a listener may fall behind before it is dropped (its browser reconnects and catches up). */
const LISTENER_BACKLOG = 256;
/** An idle SSE stream gets a comment this often, so proxies keep it and dead clients are noticed. */
const PING_MS = 15_000;
const MAX_NAME = 32;
const MAX_TEXT = 500;

const encoder = new TextEncoder();
const PING = encoder.encode(': ping\n\n');

/** A chat room: recent history, one Queue per listener, and a broadcaster greenlet feeding them. */
class ChatRoom {
  /** The last HISTORY messages, each with its SSE frame. */
  #history = [];
  /** One Queue of SSE frames per listener. */
  #listeners = new Set();
  /** Messages and presence changes, in the order they are fanned out. */
  #inbox = new Queue(10_000);
  #nextId = 1;
  #broadcaster;
  /** Listeners that ever joined. */
  served = 0;

  constructor() {
    this.#broadcaster = spawn(() => this.#broadcast());
    this.#broadcaster.name = 'chat broadcaster';
  }

  get listenerCount() {
    return this.#listeners.size;
  }

  get messageCount() {
    return this.#nextId - 1;
  }

  /**
   * Post a message; it reaches every listener in posting order.
   * @throws QueueFull when the broadcaster is that far behind; QueueShutDown once the room closed.
   */
  post(name, text) {
    const message = { id: this.#nextId, name, text, at: Date.now() };
    this.#inbox.putNowait({ message });
    this.#nextId++;
    return message;
  }

  /** A new listener's Queue, holding the history after `lastEventId` (an EventSource that reconnects sends it). */
  join(lastEventId = 0) {
    const queue = new Queue(LISTENER_BACKLOG + HISTORY);
    for (const { id, frame } of this.#history) if (id > lastEventId) queue.putNowait(frame);
    if (this.#inbox.isShutdown) {
      queue.shutdown();
      return queue;
    }
    this.#listeners.add(queue);
    this.served++;
    this.#announcePresence();
    return queue;
  }

  /** Remove a listener (idempotent); what it had not read yet is dropped. */
  leave(queue) {
    queue.shutdown(true);
    if (this.#listeners.delete(queue)) this.#announcePresence();
  }

  /** End every listener's stream once it has read what it was sent; refuse new posts. */
  close() {
    this.#inbox.shutdown(true);
    for (const queue of this.#listeners) queue.shutdown();
    this.#listeners.clear();
  }

  /** Tell everyone how many listen now; skipped when the room is closed or swamped. */
  #announcePresence() {
    try {
      this.#inbox.putNowait({ presence: true });
    } catch (err) {
      if (!(err instanceof QueueFull || err instanceof QueueShutDown)) throw err;
    }
  }

  async #broadcast() {
    for await (const item of this.#inbox) {
      const frame = item.message
        ? this.#remember(item.message)
        : sse('presence', String(this.#listeners.size));
      for (const queue of this.#listeners) {
        try {
          queue.putNowait(frame);
        } catch (err) {
          if (!(err instanceof QueueFull)) throw err;
          // A client that stopped reading: end its stream after what it has; it reconnects and catches up.
          queue.shutdown();
          this.#listeners.delete(queue);
          this.#announcePresence();
        }
      }
    }
  }

  #remember(message) {
    const frame = sse('message', JSON.stringify(message), message.id);
    this.#history.push({ id: message.id, frame });
    if (this.#history.length > HISTORY) this.#history.shift();
    return frame;
  }
}

/** One Server-Sent Events frame; `data` holds no newline (JSON.stringify escapes them). */
function sse(event, data, id) {
  return encoder.encode(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`);
}

/** GET /events: the room's messages as an endless SSE stream, read from this listener's Queue. */
function events(room, request) {
  const lastEventId = Number.parseInt(request.headers.get('last-event-id') ?? '', 10);
  const queue = room.join(Number.isSafeInteger(lastEventId) ? lastEventId : 0);
  const { signal } = request; // aborts when the client goes away
  const body = new ReadableStream(
    {
      // Runs in the connection's greenlet each time the server can send more (backpressure).
      async pull(controller) {
        try {
          controller.enqueue(await queue.get({ timeout: PING_MS, signal }));
        } catch (err) {
          if (err instanceof QueueEmpty) {
            controller.enqueue(PING);
            return;
          }
          room.leave(queue);
          if (err instanceof QueueShutDown || signal.aborted) controller.close();
          else throw err; // killed (the server's stop ran out of time): the connection closes
        }
      },
      cancel() {
        room.leave(queue);
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, {
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' },
  });
}

/** User text as one line of at most `max` characters. */
function clean(value, max) {
  if (typeof value !== 'string') return '';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  return [...value.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ').trim()].slice(0, max).join('');
}

/** POST /send: `{ name, text }` as JSON (→ 201 with the message) or a form (→ 303 back to the page). */
async function send(room, request) {
  const type = request.headers.get('content-type') ?? '';
  const isForm = type.startsWith('application/x-www-form-urlencoded');
  let fields;
  if (isForm) fields = Object.fromEntries(new URLSearchParams(await request.text()));
  else if (type.startsWith('application/json')) {
    try {
      fields = await request.json();
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err; // a body over maxBodyBytes (413), a kill...
      return text(400, 'malformed JSON\n');
    }
  } else return text(415, 'send JSON or a form\n');
  const message = clean(fields?.text, MAX_TEXT);
  if (message === '') return text(400, 'text is required\n');
  let posted;
  try {
    posted = room.post(clean(fields?.name, MAX_NAME) || 'anonymous', message);
  } catch (err) {
    if (err instanceof QueueFull || err instanceof QueueShutDown) return text(503, 'try again later\n');
    throw err;
  }
  if (isForm) return new Response(null, { status: 303, headers: { location: '/' } });
  return Response.json(posted, { status: 201 });
}

function text(status, body) {
  return new Response(body, { status, headers: { 'content-type': 'text/plain; charset=utf-8' } });
}

function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
body { font: 16px/1.4 system-ui, sans-serif; max-width: 42rem; margin: 0 auto; padding: 1rem; }
header { display: flex; gap: 1rem; align-items: baseline; }
h1 { font-size: 1.3rem; margin: 0; }
#status, #online { color: #666; font-size: .9rem; }
#status.connected { color: #080; }
#messages { list-style: none; padding: .5rem; height: 60vh; overflow-y: auto; border: 1px solid #ccc; border-radius: 6px; }
#messages li { margin: .2rem 0; overflow-wrap: anywhere; }
#messages time { color: #888; font-size: .8rem; margin-right: .4rem; }
form { display: flex; gap: .5rem; }
#name { width: 8rem; }
#text { flex: 1; }
`;

// The page renders user text only through textContent / text nodes, never as HTML.
const SCRIPT = `
const $ = (id) => document.getElementById(id);
const list = $('messages');
const status = $('status');
$('name').value = localStorage.getItem('greenhub-chat-name') || 'guest' + Math.floor(Math.random() * 1000);

function show(message) {
  const item = document.createElement('li');
  item.className = 'message';
  const time = document.createElement('time');
  time.textContent = new Date(message.at).toLocaleTimeString();
  const who = document.createElement('b');
  who.textContent = message.name;
  item.append(time, who, ': ', message.text);
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
  list.append(item);
  if (atBottom) list.scrollTop = list.scrollHeight;
}

const events = new EventSource('/events');
events.addEventListener('open', () => { status.textContent = 'connected'; status.className = 'connected'; });
events.addEventListener('error', () => { status.textContent = 'reconnecting...'; status.className = ''; });
events.addEventListener('message', (e) => show(JSON.parse(e.data)));
events.addEventListener('presence', (e) => { $('online').textContent = e.data + ' online'; });

$('send').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = $('text').value;
  if (text.trim() === '') return;
  localStorage.setItem('greenhub-chat-name', $('name').value);
  try {
    const res = await fetch('/send', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: $('name').value, text }),
    });
    if (!res.ok) throw new Error(await res.text());
    $('text').value = '';
  } catch (err) {
    status.textContent = 'not sent: ' + err.message;
    status.className = '';
  }
});
`;

const sha256 = (s) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;
// Only this page's own inline script and style may run: defence in depth against injected markup.
const CSP = `default-src 'none'; script-src ${sha256(SCRIPT)}; style-src ${sha256(STYLE)}; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`;

function page(hubName) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>greenhub chat</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>greenhub chat</h1><span id="hub">on hub ${escapeHtml(hubName)}</span><span id="status">connecting...</span><span id="online"></span></header>
<ol id="messages" aria-live="polite"></ol>
<form id="send" method="post" action="/send">
<input id="name" name="name" maxlength="${MAX_NAME}" placeholder="name" aria-label="name" required>
<input id="text" name="text" maxlength="${MAX_TEXT}" placeholder="message" aria-label="message" autocomplete="off" required autofocus>
<button type="submit">Send</button>
</form>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

/** The chat's fetch handler. */
function chat(room, hubName, stats) {
  const html = page(hubName);
  const routes = {
    'GET /': () =>
      new Response(html, {
        headers: {
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': CSP,
          'x-content-type-options': 'nosniff',
        },
      }),
    'GET /events': (request) => events(room, request),
    'POST /send': (request) => send(room, request),
    'GET /stats': () => Response.json(stats()),
    'GET /favicon.ico': () => new Response(null, { status: 204 }),
  };
  return (request) => {
    const { pathname } = new URL(request.url);
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    const route = routes[`${method} ${pathname}`];
    if (route) return route(request);
    const allowed = Object.keys(routes).filter((r) => r.endsWith(` ${pathname}`));
    if (allowed.length === 0) return text(404, 'not found\n');
    return new Response('method not allowed\n', {
      status: 405,
      headers: { allow: allowed.map((r) => r.split(' ')[0]).join(', ') },
    });
  };
}

function envPort(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(
      `${name} must be a port number 0-65535 (0 = any free port), got ${JSON.stringify(raw)}`,
    );
  }
  return port;
}

const host = process.env.HOST || '127.0.0.1';
const port = envPort('PORT', 8080);
const echoPort = envPort('ECHO_PORT', 8081);

/** The main greenlet: serve until SIGINT / SIGTERM, then stop gracefully. */
async function demo() {
  const hub = getHub();
  const room = new ChatRoom();
  let http;
  const stats = () => ({
    hub: hub.name,
    listeners: room.listenerCount,
    messages: room.messageCount,
    connections: http?.connectionCount ?? 0,
    greenlets: formatRunInfo().split('\n'),
  });
  const echo = new StreamServer(
    { host, port: echoPort },
    async (sock) => {
      for await (const chunk of sock) await sock.write(chunk);
    },
    { spawn: 1000 },
  );
  try {
    http = await serve({ hostname: host, port, fetch: chat(room, hub.name, stats), maxBodyBytes: 16 * 1024 });
    await echo.start();
    const url = (h, p) => (h.includes(':') ? `[${h}]:${p}` : `${h}:${p}`);
    const chatUrl = `http://${url(http.address.address, http.address.port)}/`;
    const echoAddress = echo.address;
    console.log(`greenhub demo on hub '${hub.name}' (backend ${hub.backend})`);
    console.log(`  chat:  ${chatUrl}  (open it in two windows)`);
    console.log(`  stats: ${chatUrl}stats`);
    console.log(
      `  echo:  tcp://${url(echoAddress.address, echoAddress.port)}  (nc ${echoAddress.address} ${echoAddress.port})`,
    );
    console.log(`  another hub: GREENHUB_HUB=${hub.name === 'pure' ? 'libev' : 'pure'} npm start`);
    console.log('  Ctrl-C stops it.');
    await new Event().wait(); // until run() kills this greenlet on SIGINT / SIGTERM
  } catch (err) {
    if (!(err instanceof GreenletExit)) throw err;
    console.log(`\n${err.message}: stopping...`);
  } finally {
    room.close(); // every SSE stream ends, so stop() finds no request left in flight
    await http?.stop(2000);
    await echo.stop(1000);
  }
  console.log(`stopped: ${room.messageCount} message(s), ${room.served} listener(s) served. Bye!`);
}

try {
  await run(demo);
  // run() set 130 (SIGINT) / 143 (SIGTERM); a signal is this demo's normal way to end.
  process.exitCode = 0;
} catch (err) {
  if (err?.code !== 'EADDRINUSE') throw err;
  console.error(`${err.message}: choose free ports with PORT=... ECHO_PORT=... (0 = any free port)`);
  process.exitCode = 1;
}
