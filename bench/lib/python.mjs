// The Python contenders of the benchmarks: gevent and eventlet, run by
// Debian's /usr/bin/python3 (python3-gevent, python3-eventlet) and never
// installed by a bench. Their code is in bench/python/.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { extraContenders } from './args.mjs';

/** Debian's python, where apt-get puts gevent and eventlet (not whatever python3 is first on PATH). */
export const PYTHON = '/usr/bin/python3';

/** The contenders bench/python/ knows. */
export const PYTHON_LIBS = ['gevent', 'eventlet'];

const pythonDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'python');

/** The argv running `script` of bench/python/ with `args`. */
export function pythonArgv(script, ...args) {
  return [PYTHON, path.join(pythonDir, script), ...args];
}

/** Whether `contender` is one of the Python ones. */
export function isPython(contender) {
  return PYTHON_LIBS.includes(contender);
}

/**
 * The versions of python, gevent and eventlet (null: not importable, with `<lib>_error` saying why),
 * and of the libev gevent bundles; all null when there is no /usr/bin/python3.
 */
export function pythonVersions() {
  const [cmd, ...args] = pythonArgv('versions.py');
  try {
    return JSON.parse(execFileSync(cmd, args, { encoding: 'utf8' }));
  } catch (err) {
    const why = `${PYTHON}: ${err.message.split('\n')[0]}`;
    return { python: null, gevent: null, gevent_error: why, eventlet: null, eventlet_error: why };
  }
}

/** How to get `lib` where it is missing. */
export function installHint(lib) {
  return `apt-get install python3-${lib}`;
}

/**
 * The contenders asked for with --with that /usr/bin/python3 can import, in
 * that order; each other one is named on stdout with the reason and the fix.
 */
export function pythonContenders() {
  const asked = extraContenders.filter((c) => {
    if (isPython(c)) return true;
    throw new Error(`--with ${c}: unknown contender (known: ${PYTHON_LIBS.join(', ')})`);
  });
  if (asked.length === 0) return [];
  const versions = pythonVersions();
  return asked.filter((lib) => {
    if (versions[lib]) return true;
    console.log(`(${lib} skipped: ${versions[`${lib}_error`]}; to include it: ${installHint(lib)})`);
    return false;
  });
}
