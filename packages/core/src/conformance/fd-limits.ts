import net from 'node:net';
import { describe, expect } from 'vitest';
import { itInChild, prelude, startPeer } from './internal/child.js';
import type { Suite } from './internal/harness.js';
import { until, within } from './internal/wait.js';

/** The child's file-descriptor limit: Node itself needs about 20. */
const FD_LIMIT = 64;
const CONNECTIONS = 100;

/**
 * A child with a hub listener and only {@link FD_LIMIT} descriptors. It reads
 * every stream it accepts; 'free' on any of them closes them all, 'late' is
 * answered with a line and ends the child. It prints `onError <code>` for the
 * first accept error and, at the end, `errors: <codes>`.
 */
function childSource(module: string): string {
  return `${prelude(module)}
const hub = createHub();
const listener = hub.listen({ host: '127.0.0.1', port: 0, backlog: 511 });
let streams = [];
const errors = [];
listener.start(
  (stream) => {
    streams.push(stream);
    stream.readStart((chunk) => {
      const text = chunk ? Buffer.from(chunk).toString() : '';
      if (text === 'free') {
        for (const s of streams) s.close();
        streams = [];
        say('freed');
      } else if (text === 'late') {
        say('served after running out');
        say('errors: ' + (errors.join(',') || 'none'));
        for (const s of streams) s.close();
        listener.close();
      }
    });
  },
  (err) => { errors.push(err.code); },
);
say(listener.address.port);`;
}

/** Run the scenario: exhaust the child's descriptors, free them, connect again. Returns the child's last line. */
async function exhaust(module: string): Promise<string> {
  const peer = startPeer(childSource(module), { fdLimit: FD_LIMIT });
  const sockets: net.Socket[] = [];
  try {
    const port = Number(await peer.lines.next('the child to listen', 5000));
    let dropped = 0;
    for (let i = 0; i < CONNECTIONS; i++) {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.on('close', () => dropped++);
      sockets.push(socket);
    }
    await until(
      () => dropped >= CONNECTIONS - FD_LIMIT,
      'the child to drop the connections it had no descriptor for',
      5000,
      () => `${dropped} dropped; child stderr: ${peer.stderr()}`,
    );
    const open = sockets.find((s) => !s.destroyed);
    expect(open, 'a connection the child accepted').toBeDefined();
    open?.write('free');
    expect(await peer.lines.next('the child to close what it accepted', 5000)).toBe('freed');
    const late = net.connect(port, '127.0.0.1', () => late.write('late'));
    late.on('error', () => undefined);
    sockets.push(late);
    expect(await peer.lines.next('the connection made afterwards to be served', 5000)).toBe(
      'served after running out',
    );
    const errors = await peer.lines.next('the errors line', 5000);
    await within(
      5000,
      'the child to exit by itself',
      new Promise((resolve) => peer.child.once('close', resolve)),
    );
    expect(peer.child.exitCode, peer.stderr()).toBe(0);
    return errors;
  } finally {
    for (const socket of sockets) socket.destroy();
    await peer.stop();
  }
}

/**
 * Accept errors that do not end listening (EMFILE, ENFILE) go to the
 * listener's `onError`, and the listener keeps going. Checked in a child
 * process with a lowered fd limit, so the test runner's own limit is untouched.
 */
export function fdLimits(suite: Suite): void {
  describe('a listener out of file descriptors (child process)', () => {
    itInChild(
      suite.module,
      'a listener keeps accepting once descriptors are free again',
      async (module) => {
        await exhaust(module);
      },
      20_000,
    );

    itInChild(
      suite.module,
      'running out of descriptors on accept is reported to onError as EMFILE or ENFILE',
      async (module) => {
        expect(await exhaust(module)).toMatch(/^errors: (EMFILE|ENFILE)/);
      },
      20_000,
    );
  });
}
