import { runHubConformance } from '@greenhub/core/conformance';
import { createHub } from '../src/index.js';

// The child-process checks import the package's build (dist), so build before testing (turbo's test task does).
runHubConformance(createHub, { module: '@greenhub/hub-pure', name: 'pure' });
