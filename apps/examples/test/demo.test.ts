import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { hubsUnderTest, requiredHubs } from '@greenhub/core/testing';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const demo = fileURLToPath(new URL('../src/demo.mjs', import.meta.url));

describe('the npm start demo', () => {
  for (const hub of hubsUnderTest()) {
    const skip = !hub.available && !requiredHubs().includes(hub.name);
    it.skipIf(skip)(
      `runs to completion on hub ${hub.name}, says which hub runs and exits by itself`,
      async () => {
        const { stdout, stderr } = await run(process.execPath, [demo], {
          env: { ...process.env, GREENHUB_HUB: hub.name },
          timeout: 15_000,
        });
        expect(stderr).toBe('');
        expect(stdout).toContain(`greenhub demo on hub '${hub.name}'`);
        expect(stdout).toMatch(/GREENHUB_HUB=\w+ npm start/);
        expect(stdout).toContain('charlie: gave up after 300 ms');
        expect(stdout).toContain('alpha: 40 ms');
        expect(stdout).toContain('ticker: killed, cleaning up');
        expect(stdout).toContain('ticker dead: true, ended with GreenletExit');
        expect(stdout).toContain('a 1 s sleep was cut short: Timeout after 50 ms');
        expect(stdout).toMatch(/crawl:juliet: waiting on sleep/);
      },
    );
  }
});
