import { describe, expect, it } from 'vitest';
import { describeChild, runFixture } from './helpers/child.js';

describe('Workers', () => {
  it('60 Workers that alone load the addon survive being terminated at random moments', async () => {
    const result = await runFixture('workers.mjs', 90_000, { WORKERS: '60' });
    expect(result.code, describeChild(result)).toBe(0);
    expect(result.stdout).toMatch(/^ok 60 workers/m);
  }, 100_000);
});
