import { existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.js';

// Without the native addon (no libev at install), every test here is reported
// as skipped with the reason, except where the libev hub is required (CI).
const built = existsSync(new URL('./build/Release/hub_libev.node', import.meta.url));
const required = (process.env.GREENHUB_REQUIRE_HUBS ?? '').split(',').includes('libev');

export default defineConfig({
  test: {
    ...sharedTestConfig,
    include: built || required ? ['test/**/*.test.ts'] : ['test/unavailable.skip-test.ts'],
  },
});
