// A PostgreSQL cluster of the test's own: initdb in a temp dir, started with
// pg_ctl on a free 127.0.0.1 port and a unix socket in the same dir, stopped
// and removed afterwards. No system service, no state left behind.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** Where and as whom to reach a running server, as the PG* variables say it. */
export interface PostgresServer {
  /** `PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE` (and `PGPASSWORD` if any) for a client. */
  env: Record<string, string>;
  /** The unix socket directory, when the server listens on one. */
  socketDir?: string;
  /** The server's log, when it is ours to read. */
  logFile?: string;
  /** Stop the server and remove its files (a no-op for a server we did not start); idempotent. */
  stop(): Promise<void>;
}

/** The directories that may hold initdb and pg_ctl: PATH, then Debian's versioned dirs (newest first). */
function binDirCandidates(): string[] {
  const debian = '/usr/lib/postgresql';
  const versions = existsSync(debian)
    ? readdirSync(debian)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
        .map((v) => join(debian, v, 'bin'))
    : [];
  const path = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  return [...path, '/usr/local/bin', ...versions, '/usr/local/pgsql/bin'];
}

/** The directory holding both `initdb` and `pg_ctl`, or undefined. */
export function findPostgresBinDir(): string | undefined {
  return binDirCandidates().find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Run a command as the user `postgres` when we are root: postgres refuses to run as root. */
function asServerUser(command: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [command, args];
  if (existsSync('/usr/sbin/runuser') || existsSync('/sbin/runuser')) {
    return ['runuser', ['-u', 'postgres', '--', command, ...args]];
  }
  const quoted = [command, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return ['su', ['postgres', '-s', '/bin/sh', '-c', quoted]];
}

async function serverUserIds(): Promise<{ uid: number; gid: number }> {
  try {
    const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
      exec('id', ['-u', 'postgres'], { timeout: 5000 }),
      exec('id', ['-g', 'postgres'], { timeout: 5000 }),
    ]);
    return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
  } catch {
    throw new Error(
      'running as root, and there is no user "postgres" to run PostgreSQL as (it refuses to run as root): ' +
        'install Debian\'s "postgresql" package, which creates it, or run the tests as another user',
    );
  }
}

/** Our environment without any PG* variable (or DATABASE_URL) that could point a client or tool elsewhere. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C' };
  for (const key of Object.keys(env)) if (key.startsWith('PG') || key === 'DATABASE_URL') delete env[key];
  return env;
}

/**
 * Start a throwaway cluster (about a second), or explain what is missing.
 *
 * @throws an Error saying why no server could be started and what to do.
 */
export async function startThrowawayPostgres(): Promise<PostgresServer> {
  const binDir = findPostgresBinDir();
  if (!binDir) {
    throw new Error(
      `no PostgreSQL server binaries (initdb, pg_ctl) in PATH or /usr/lib/postgresql/<version>/bin: ` +
        `install them (Debian: apt-get install postgresql; macOS: brew install postgresql), ` +
        `or point GREENHUB_TEST_DATABASE_URL at a server the tests may use`,
    );
  }
  const ids = process.getuid?.() === 0 ? await serverUserIds() : undefined;
  const dir = await mkdtemp(join(tmpdir(), 'greenhub-pg-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const env = cleanEnv();
  const pgCtl = join(binDir, 'pg_ctl');
  let started = false;
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // Also after a failed or timed-out start: a postmaster may be up all the same.
    if (started || existsSync(join(dataDir, 'postmaster.pid'))) {
      const [cmd, args] = asServerUser(pgCtl, ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '20']);
      await exec(cmd, args, { env, timeout: 30_000 }).catch(() => killPostmaster(dataDir));
    }
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  };

  try {
    if (ids) await chown(dir, ids.uid, ids.gid);
    const [initCmd, initArgs] = asServerUser(join(binDir, 'initdb'), [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '--encoding=UTF8',
      '--locale=C',
      '--no-sync',
    ]);
    await exec(initCmd, initArgs, { env, timeout: 60_000 });

    // A port free a moment ago may be taken before the server binds it: try a few.
    let port = 0;
    for (let attempt = 1; !started; attempt++) {
      port = await freePort();
      const options = [
        `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir}`,
        '-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=16MB',
      ].join(' ');
      const [cmd, args] = asServerUser(pgCtl, [
        'start',
        '-D',
        dataDir,
        '-l',
        logFile,
        '-w',
        '-t',
        '30',
        '-o',
        options,
      ]);
      try {
        await exec(cmd, args, { env, timeout: 45_000 });
        started = true;
      } catch (error) {
        const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
        if (attempt >= 3 || !/could not bind|address already in use/i.test(log)) {
          throw new Error(`pg_ctl start failed: ${(error as Error).message}\n${log}`);
        }
      }
    }
    return {
      env: { PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'postgres', PGDATABASE: 'postgres' },
      socketDir: dir,
      logFile,
      stop,
    };
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}

/** The last resort when pg_ctl stop did not work: kill the postmaster named in its pid file. */
function killPostmaster(dataDir: string): void {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (pid > 0) process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** A server the user pointed us at with GREENHUB_TEST_DATABASE_URL, never stopped by us. */
export function externalPostgres(url: string): PostgresServer {
  return { env: { DATABASE_URL: url }, stop: async () => {} };
}
