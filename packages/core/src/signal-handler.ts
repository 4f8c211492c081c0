import { Greenlet } from './greenlet.js';
import { getHub } from './registry.js';

/**
 * Run `fn` in a new greenlet on each delivery of a POSIX signal, through the
 * hub's signal watcher (which goes through Node, so Node's own handlers keep
 * working). Like Node's, the handler does not keep the process alive.
 * Installing one replaces Node's default action (exit) for that signal.
 *
 * @returns a handle whose `cancel()` (or `using`) removes the handler.
 * @example
 * const h = signalHandler('SIGHUP', () => reloadConfig());
 */
export function signalHandler(name: NodeJS.Signals, fn: () => unknown): { cancel(): void } & Disposable {
  if (typeof fn !== 'function') {
    throw Object.assign(new TypeError(`signalHandler needs a function, got ${typeof fn}`), {
      code: 'ERR_INVALID_ARG_TYPE',
    });
  }
  const watcher = getHub().signal(name);
  watcher.start(() => {
    const g = new Greenlet(fn);
    g.name = `signal:${name}#${g.id}`;
    g.start();
  });
  const cancel = (): void => watcher.close();
  return { cancel, [Symbol.dispose]: cancel };
}
