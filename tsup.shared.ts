import type { Options } from 'tsup';

/** How every package builds: ESM + CJS + .d.ts for Node 20, with source maps, from src/index.ts. */
export const sharedBuild = {
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
} satisfies Options;
