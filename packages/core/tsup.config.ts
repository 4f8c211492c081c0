import { defineConfig } from 'tsup';
import { sharedBuild } from '../../tsup.shared.js';

export default defineConfig({
  ...sharedBuild,
  entry: {
    index: 'src/index.ts',
    'conformance/index': 'src/conformance/index.ts',
    'testing/index': 'src/testing/index.ts',
  },
  external: ['vitest'],
  shims: true,
});
