import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { hubsUnderTest, requiredHubs } from '@greenhub/core/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  cleanEnv,
  externalPostgres,
  type PostgresServer,
  startThrowawayPostgres,
} from './throwaway-postgres.js';

/** A server to use instead of a throwaway one (its unix socket is then not ours to know). */
const externalUrl = process.env.GREENHUB_TEST_DATABASE_URL;
const example = fileURLToPath(new URL('../src/examples/postgres.mjs', import.meta.url));

/** Run the example to its end; never rejects, so a failure shows its output. */
function runExample(
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [example], { env, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr: error && code === null ? `${stderr}\n${error.message}` : stderr });
    });
  });
}

const cancelsIn = (log: string | undefined): number =>
  log === undefined
    ? 0
    : (readFileSync(log, 'utf8').match(/canceling statement due to user request/g) ?? []).length;

// The server: GREENHUB_TEST_DATABASE_URL if given, else a throwaway cluster started here. Without
// either the suite fails (in CI as anywhere else): a database example that was never run proves nothing.
describe('src/examples/postgres.mjs: a ResourcePool of pg connections over greenhub sockets', () => {
  let server: PostgresServer | undefined;

  beforeAll(async () => {
    try {
      server = externalUrl ? externalPostgres(externalUrl) : await startThrowawayPostgres();
    } catch (error) {
      throw new Error(`no PostgreSQL server for the postgres example: ${(error as Error).message}`);
    }
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
  }, 60_000);

  for (const hub of hubsUnderTest()) {
    const skip = !hub.available && !requiredHubs().includes(hub.name);

    it.skipIf(skip)(
      `on hub ${hub.name}: 20 queries share 5 connections in about 4 rounds, and a query past its Timeout is cut short and its connection destroyed`,
      async () => {
        if (!server) throw new Error('no PostgreSQL server (see the beforeAll error)');
        const cancelsBefore = cancelsIn(server.logFile);
        const { code, stdout, stderr } = await runExample({
          ...cleanEnv(),
          ...server.env,
          GREENHUB_HUB: hub.name,
        });
        expect({ code, stderr }, stdout).toEqual({ code: 0, stderr: '' });

        expect(stdout).toContain(`from greenlets on hub '${hub.name}'`);
        expect(stdout).toContain(`results: ${Array.from({ length: 20 }, (_, i) => i).join(',')}`);
        expect(stdout).toContain('backends used: 5');
        // Each connection runs 4 queries of 50 ms one after another: at least 200 ms. One connection
        // would need 1000 ms; anything well below that means the queries really ran 5 at a time.
        const rounds = stdout.match(/20 queries of 50 ms on 5 connections: (\d+) ms/);
        expect(rounds, stdout).not.toBeNull();
        expect(Number(rounds![1])).toBeGreaterThanOrEqual(190);
        expect(Number(rounds![1])).toBeLessThan(1000);

        const timedOut = stdout.match(/a 5 s query timed out cleanly after (\d+) ms: Timeout after 200 ms/);
        expect(timedOut, stdout).not.toBeNull();
        expect(Number(timedOut![1])).toBeGreaterThanOrEqual(190);
        expect(Number(timedOut![1])).toBeLessThan(2000);
        expect(stdout).toMatch(/destroying the connection to backend \d+: its query was cut off/);
        // Destroyed, not released: the pool went on with the other four, and they work.
        expect(stdout).toContain('after the timeout: answer 42; pool stats: {"size":4,"idle":4,"borrowed":0');
        expect(stdout).toContain('drained: {"size":0,"idle":0,"borrowed":0,"waiting":0,"creating":0}');

        // The server cancelled the 5 s query rather than running it on for nobody.
        if (server.logFile) {
          const log = server.logFile;
          await vi.waitFor(() => expect(cancelsIn(log)).toBe(cancelsBefore + 1), { timeout: 5000 });
        }
      },
      45_000,
    );

    it.skipIf(skip || externalUrl !== undefined)(
      `on hub ${hub.name}: the same runs over the server's unix socket`,
      async () => {
        if (!server) throw new Error('no PostgreSQL server (see the beforeAll error)');
        if (!server.socketDir) throw new Error('the throwaway server has no unix socket');
        const { code, stdout, stderr } = await runExample({
          ...cleanEnv(),
          ...server.env,
          PGHOST: server.socketDir,
          GREENHUB_HUB: hub.name,
        });
        expect({ code, stderr }, stdout).toEqual({ code: 0, stderr: '' });
        expect(stdout).toContain(
          `PostgreSQL at ${server.socketDir} (unix) from greenlets on hub '${hub.name}'`,
        );
        expect(stdout).toContain('backends used: 5');
        expect(stdout).toMatch(/a 5 s query timed out cleanly after \d+ ms/);
        expect(stdout).toContain('drained: {"size":0');
      },
      45_000,
    );
  }
});
