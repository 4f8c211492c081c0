#!/usr/bin/env node
// Prints compiler or linker flags for the system libev, for binding.gyp and build-addon.mjs.
// Usage: node libev-config.mjs cflags|libs|probe
// `probe` exits 0 and prints where libev was found, or exits 1 with the reason.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const HEADER_DIRS = ['/usr/include', '/usr/local/include', '/opt/homebrew/include', '/opt/local/include'];

function pkgConfig(flag) {
  try {
    return execFileSync('pkg-config', [flag, 'libev'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

/** @returns {{ cflags: string, libs: string, where: string } | undefined} */
export function findLibev() {
  const libs = pkgConfig('--libs');
  if (libs !== undefined) return { cflags: pkgConfig('--cflags') ?? '', libs, where: 'pkg-config libev' };
  for (const dir of HEADER_DIRS) {
    if (!existsSync(`${dir}/ev.h`)) continue;
    const libdir = dir.replace(/include$/, 'lib');
    const system = dir === '/usr/include';
    return {
      cflags: system ? '' : `-I${dir}`,
      libs: system ? '-lev' : `-L${libdir} -Wl,-rpath,${libdir} -lev`,
      where: `${dir}/ev.h`,
    };
  }
  return undefined;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const found = findLibev();
  const what = process.argv[2];
  if (what === 'probe') {
    if (!found) process.exit(1);
    console.log(found.where);
  } else if (what === 'cflags') {
    console.log(found?.cflags ?? '');
  } else {
    console.log(found?.libs ?? '-lev');
  }
}
