// Run instead of the real tests when the native addon is not built and the
// libev hub is not required (see vitest.config.ts): one skipped test, with the reason.
import { readFileSync } from 'node:fs';
import { it } from 'vitest';

function reason(): string {
  try {
    return readFileSync(new URL('../build/status.txt', import.meta.url), 'utf8').trim();
  } catch {
    return 'native addon not built';
  }
}

it.skip(`@greenhub/hub-libev is unavailable on this machine: ${reason()}`, () => undefined);
