import { describe, expect, it } from 'vitest';
import type { SignalWatcher } from '../hub/index.js';
import { expectThrowsCode, type HubTest, type Suite, useHub } from './internal/harness.js';
import { deferred, Inbox, turns, until, within } from './internal/wait.js';

/**
 * SIGUSR2 terminates a process that has no handler for it, so every test that
 * sends it first installs Node's own listener: it keeps the test runner alive
 * whatever the hub does, and it is the witness that the signal was delivered.
 * SIGWINCH is ignored by default and is safe without one.
 */
function nodeListener(t: HubTest, signal: NodeJS.Signals): Inbox<NodeJS.Signals> {
  const inbox = new Inbox<NodeJS.Signals>();
  const listener = (name: NodeJS.Signals): void => inbox.push(name);
  process.on(signal, listener);
  t.defer(() => process.off(signal, listener));
  return inbox;
}

function watch(t: HubTest, signal: NodeJS.Signals): { watcher: SignalWatcher; calls: Inbox<number> } {
  const watcher = t.hub.signal(signal);
  t.defer(() => watcher.close());
  const calls = new Inbox<number>();
  let n = 0;
  watcher.start(() => calls.push(++n));
  return { watcher, calls };
}

/** Signals through the host: the hub's watchers and Node's own listeners both see them. */
export function signals(suite: Suite): void {
  describe('signals', () => {
    const t = useHub(suite);

    it('a signal watcher fires on each delivery of its signal', async () => {
      const node = nodeListener(t(), 'SIGUSR2');
      const { watcher, calls } = watch(t(), 'SIGUSR2');
      expect(watcher.signal).toBe('SIGUSR2');
      expect(watcher.active).toBe(true);
      process.kill(process.pid, 'SIGUSR2');
      await calls.next('the watcher, after the first SIGUSR2');
      await node.next("Node's listener, after the first SIGUSR2");
      process.kill(process.pid, 'SIGUSR2');
      await calls.next('the watcher, after the second SIGUSR2');
      await node.next("Node's listener, after the second SIGUSR2");
    });

    it('a signal watcher fires even when Node has no listener for that signal', async () => {
      const { calls } = watch(t(), 'SIGWINCH');
      process.kill(process.pid, 'SIGWINCH');
      await calls.next('the watcher, after SIGWINCH');
    });

    it("Node's own listeners for the same signal still fire, and hub watchers do not remove them", async () => {
      const node = nodeListener(t(), 'SIGUSR2');
      const before = process.listenerCount('SIGUSR2');
      const { watcher, calls } = watch(t(), 'SIGUSR2');
      process.kill(process.pid, 'SIGUSR2');
      await Promise.all([calls.next('the watcher'), node.next("Node's listener")]);
      watcher.close();
      expect(process.listenerCount('SIGUSR2'), "Node's SIGUSR2 listeners once the watcher is closed").toBe(
        before,
      );
      process.kill(process.pid, 'SIGUSR2');
      await node.next("Node's listener, after the watcher closed");
    });

    it('start() on an active signal watcher replaces its callback', async () => {
      const node = nodeListener(t(), 'SIGUSR2');
      const watcher = t().hub.signal('SIGUSR2');
      t().defer(() => watcher.close());
      const calls: string[] = [];
      watcher.start(() => calls.push('first'));
      watcher.start(() => calls.push('second'));
      process.kill(process.pid, 'SIGUSR2');
      await node.next("Node's listener");
      await until(() => calls.length > 0, 'the watcher', 2000);
      await turns(t().hub);
      expect(calls).toEqual(['second']);
    });

    it('two watchers of the same signal both fire', async () => {
      const node = nodeListener(t(), 'SIGUSR2');
      const first = watch(t(), 'SIGUSR2');
      const second = watch(t(), 'SIGUSR2');
      process.kill(process.pid, 'SIGUSR2');
      await Promise.all([first.calls.next('the first watcher'), second.calls.next('the second watcher')]);
      await node.next("Node's listener");
    });

    it('a stopped signal watcher is not called, and can be started again', async () => {
      const node = nodeListener(t(), 'SIGUSR2');
      const { watcher, calls } = watch(t(), 'SIGUSR2');
      watcher.stop();
      watcher.stop();
      expect(watcher.active).toBe(false);
      process.kill(process.pid, 'SIGUSR2');
      await node.next("Node's listener");
      await turns(t().hub);
      expect(calls.count, 'watcher calls while stopped').toBe(0);
      const again = deferred();
      watcher.start(() => again.resolve());
      process.kill(process.pid, 'SIGUSR2');
      await within(2000, 'the restarted watcher', again.promise);
      await node.next("Node's listener, second time");
    });

    it('a closed signal watcher is never called again, refuses start(), and close() twice is harmless', async () => {
      const node = nodeListener(t(), 'SIGUSR2');
      const { watcher, calls } = watch(t(), 'SIGUSR2');
      watcher.close();
      watcher.close();
      expect(watcher.active).toBe(false);
      expectThrowsCode(() => watcher.start(() => undefined), 'ERR_HUB_CLOSED', 'start() after close()');
      process.kill(process.pid, 'SIGUSR2');
      await node.next("Node's listener");
      await turns(t().hub);
      expect(calls.count).toBe(0);
    });

    it('a signal watcher is unreferenced by default; ref() counts it as referenced', () => {
      const { hub } = t();
      const { watcher } = watch(t(), 'SIGWINCH');
      expect(hub.stats()).toMatchObject({ active: 1, referenced: 0 });
      watcher.ref();
      expect(hub.stats()).toMatchObject({ active: 1, referenced: 1 });
      watcher.unref();
      expect(hub.stats()).toMatchObject({ active: 1, referenced: 0 });
      watcher.stop();
      expect(hub.stats()).toMatchObject({ active: 0, referenced: 0 });
    });

    it('an exception thrown by a signal watcher goes to onError, and the watcher keeps working', async () => {
      const node = nodeListener(t(), 'SIGUSR2');
      const watcher = t().hub.signal('SIGUSR2');
      t().defer(() => watcher.close());
      let calls = 0;
      watcher.start(() => {
        calls++;
        if (calls === 1) throw new Error('boom in a signal watcher');
      });
      process.kill(process.pid, 'SIGUSR2');
      await node.next("Node's listener");
      await until(() => calls === 1, 'the watcher', 2000);
      process.kill(process.pid, 'SIGUSR2');
      await node.next("Node's listener, second time");
      await until(() => calls === 2, 'the watcher, second time', 2000);
      const reported = t().takeErrors();
      expect(reported.map((r) => (r.error as Error).message)).toEqual(['boom in a signal watcher']);
    });
  });
}
