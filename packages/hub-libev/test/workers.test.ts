import { describe, expect, it } from 'vitest';
import { describeChild, runFixture } from './helpers/child.js';

describe('Workers', () => {
  it('100 Workers that alone load the addon survive being terminated at random moments', async () => {
    const result = await runFixture('workers.mjs', 90_000, { WORKERS: '100' });
    expect(result.code, describeChild(result)).toBe(0);
    expect(result.stdout).toMatch(/^ok 100 workers/m);
  }, 100_000);
});
