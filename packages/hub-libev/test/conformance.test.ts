import { fileURLToPath } from 'node:url';
import { runHubConformance } from '@greenhub/core/conformance';
import { createHub } from '../src/index.js';

runHubConformance(createHub, {
  module: fileURLToPath(new URL('../dist/index.js', import.meta.url)),
  name: 'libev',
});
