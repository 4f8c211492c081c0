import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const packageRoot = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

/** A copy of the built package without its native addon, as after an install where libev was missing. */
function packageWithoutAddon(status: string | undefined): string {
  const dir = mkdtempSync(join(tmpdir(), 'hub-libev-missing-'));
  cpSync(join(packageRoot, 'dist'), join(dir, 'dist'), { recursive: true });
  cpSync(join(packageRoot, 'package.json'), join(dir, 'package.json'));
  if (status !== undefined) {
    mkdirSync(join(dir, 'build'));
    writeFileSync(join(dir, 'build', 'status.txt'), `${status}\n`);
  }
  // The copy resolves @greenhub/core like the real package does.
  mkdirSync(join(dir, 'node_modules', '@greenhub'), { recursive: true });
  symlinkSync(
    dirname(require.resolve('@greenhub/core/package.json')),
    join(dir, 'node_modules', '@greenhub', 'core'),
  );
  return dir;
}

function loadError(dir: string): Error & { code?: string } {
  try {
    require(join(dir, 'dist', 'index.cjs'));
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('the package loaded without its addon');
}

describe('when the native addon is missing', () => {
  it('loading the package throws one ERR_HUB_UNAVAILABLE error saying why and what to do', () => {
    const dir = packageWithoutAddon(
      'native addon not built — libev headers were missing at install (no pkg-config libev, no ev.h)',
    );
    try {
      const err = loadError(dir);
      expect(err).toBeInstanceOf(Error);
      expect(err.code).toBe('ERR_HUB_UNAVAILABLE');
      expect(err.message).toContain('native addon not built — libev headers were missing at install');
      expect(err.message).toContain(
        'Possible solutions: apt-get install libev-dev (Debian/Ubuntu) or brew install libev; then npm rebuild @greenhub/hub-libev; or use GREENHUB_HUB=pure',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without any record of the install step, the error says the addon was not built', () => {
    const dir = packageWithoutAddon(undefined);
    try {
      const err = loadError(dir);
      expect(err.code).toBe('ERR_HUB_UNAVAILABLE');
      expect(err.message).toMatch(/native addon not built/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
