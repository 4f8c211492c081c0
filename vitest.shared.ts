// Settings every package's vitest config starts from: strict, bounded, and in
// CI a JSON report that .ci/run folds into one "N passed, N failed" line.
import type { ViteUserConfig } from 'vitest/config';

export const sharedTestConfig: ViteUserConfig['test'] = {
  include: ['test/**/*.test.ts'],
  testTimeout: 20_000,
  hookTimeout: 20_000,
  allowOnly: false,
  pool: 'forks',
  reporters: process.env.CI ? ['default', ['json', { outputFile: 'test-results.json' }]] : ['default'],
};
