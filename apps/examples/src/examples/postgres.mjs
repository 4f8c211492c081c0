// A real database from greenlets: a ResourcePool of PostgreSQL connections made
// with the `pg` driver, whose bytes travel over greenhub sockets.
//
// Twenty greenlets each run `SELECT pg_sleep(0.05)` through a pool of five
// connections, so the twenty 50 ms queries take about four rounds (~200 ms),
// not 1 s. Then one query gets a 200 ms Timeout for a 5 s sleep: it is cut
// short cleanly, the server is told to cancel it, and its connection — left
// in the middle of the protocol — is destroyed instead of going back to the
// pool. The pool is drained at the end and the process exits by itself.
//
// Run it against any PostgreSQL you can reach (nothing is written to it):
//   DATABASE_URL=postgres://user:password@127.0.0.1:5432/db node src/examples/postgres.mjs
//   PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres PGDATABASE=postgres PGPASSWORD=... \
//     node src/examples/postgres.mjs
// PGHOST may be a unix socket directory (e.g. /var/run/postgresql). Without any
// of these it tries localhost:5432 as user $USER. Pick the hub with GREENHUB_HUB.
import { getHub, joinall, run, spawn, Timeout, withTimeout } from '@greenhub/core';
import { connect } from '@greenhub/net';
import { AsyncResult, ResourcePool } from '@greenhub/sync';
import pg from 'pg';

const settings = connectionSettings(process.env);

/** Where and as whom to connect, from DATABASE_URL or the PG* variables libpq reads. */
function connectionSettings(env) {
  if (env.DATABASE_URL) {
    const url = new URL(env.DATABASE_URL);
    return {
      host: url.searchParams.get('host') ?? (url.hostname || 'localhost'),
      port: Number(url.port || 5432),
      user: decodeURIComponent(url.username) || env.USER,
      password: url.password ? decodeURIComponent(url.password) : undefined,
      database: decodeURIComponent(url.pathname.slice(1)) || undefined,
    };
  }
  return {
    host: env.PGHOST || 'localhost',
    port: Number(env.PGPORT || 5432),
    user: env.PGUSER || env.USER,
    password: env.PGPASSWORD,
    database: env.PGDATABASE,
  };
}

/** A greenhub socket to the server: TCP, or a unix socket when the host is a directory. */
function connectToServer(timeout) {
  const { host, port } = settings;
  return host.startsWith('/')
    ? connect({ path: `${host}/.s.PGSQL.${port}`, timeout })
    : connect({ host, port, timeout });
}

/**
 * Await a promise greenhub does not know (pg's) as a greenhub wait: a Timeout
 * or a kill is only thrown at a greenhub wait, never into a plain `await`.
 */
function settle(promise) {
  const result = new AsyncResult();
  promise.then(
    (value) => result.set(value),
    (error) => result.setException(error),
  );
  return result.get();
}

/** One pooled connection: a pg.Client talking through a greenhub Socket. */
class Connection {
  static async open() {
    const socket = await connectToServer(5000);
    // toNodeStream() is a Duplex that acts like the net.Socket pg expects: pg's
    // connect() on it only announces it, and the server hanging up closes it.
    const stream = socket.toNodeStream();
    const client = new pg.Client({ ...settings, stream });
    const conn = new Connection(client, socket);
    // pg emits 'error' when the server goes away between queries (unhandled, it would crash the
    // process); `validate` then keeps the dead connection from being lent again.
    client.on('error', () => {
      conn.broken = true;
    });
    client.on('end', () => {
      conn.broken = true;
    });
    try {
      await withTimeout(5000, () => settle(client.connect()));
    } catch (error) {
      socket.close();
      throw error;
    }
    return conn;
  }

  constructor(client, socket) {
    this.client = client;
    this.socket = socket;
    /** True from sending a query until its answer arrived (or it failed). */
    this.busy = false;
    /** True once the server or the socket went away. */
    this.broken = false;
  }

  async query(text, values) {
    this.busy = true;
    return settle(
      this.client.query(text, values).finally(() => {
        this.busy = false;
      }),
    );
  }

  async close() {
    if (this.busy) {
      // Our side gave up on a query: the server would go on running it after
      // the socket closes (pg_sleep does not notice), so cancel it first.
      console.log(`  destroying the connection to backend ${this.client.processID}: its query was cut off`);
      await withTimeout(2000, () => this.#cancelOnServer(), { fallback: undefined });
    } else {
      await withTimeout(2000, () => settle(this.client.end()), { fallback: undefined });
    }
    this.socket.close();
  }

  /** PostgreSQL's CancelRequest, sent on a connection of its own as the protocol wants. */
  async #cancelOnServer() {
    const request = Buffer.alloc(16);
    request.writeInt32BE(16, 0);
    request.writeInt32BE(80877102, 4);
    request.writeInt32BE(this.client.processID, 8);
    request.writeInt32BE(this.client.secretKey, 12);
    const socket = await connectToServer(1000);
    try {
      await socket.write(request);
      await socket.read(); // the server closes it once the cancel is handled
    } finally {
      socket.close();
    }
  }
}

await run(async function postgresExample() {
  const where = settings.host.startsWith('/')
    ? `${settings.host} (unix)`
    : `${settings.host}:${settings.port}`;
  console.log(`PostgreSQL at ${where} from greenlets on hub '${getHub().name}'`);

  const pool = new ResourcePool({
    create: () => Connection.open(),
    destroy: (conn) => conn.close(),
    validate: (conn) => !conn.busy && !conn.broken,
    max: 5,
    acquireTimeout: 10_000,
  });

  // 20 greenlets, 5 connections: each query holds a connection for 50 ms.
  const started = performance.now();
  const workers = Array.from({ length: 20 }, (_, i) => {
    const g = spawn(async () => {
      const { rows } = await pool.use((db) =>
        db.query('SELECT pg_sleep(0.05), $1::int AS n, pg_backend_pid() AS pid', [i]),
      );
      return rows[0];
    });
    g.name = `query#${i}`;
    return g;
  });
  await joinall(workers, { timeout: 30_000, raiseError: true });
  const rows = await Promise.all(workers.map((g) => g.get()));
  const elapsed = Math.round(performance.now() - started);
  console.log(
    `20 queries of 50 ms on ${pool.stats.size} connections: ${elapsed} ms (one at a time: 1000 ms)`,
  );
  console.log(`results: ${rows.map((row) => row.n).join(',')}`);
  console.log(`backends used: ${new Set(rows.map((row) => row.pid)).size}`);
  console.log(`pool stats: ${JSON.stringify(pool.stats)}`);

  // A query that outlives its deadline. The Timeout is thrown at the greenhub
  // wait inside `query()`; `destroyOnError` then destroys the connection
  // instead of releasing it, since a reply is still on its way on it.
  const cutShort = performance.now();
  try {
    await withTimeout(200, () =>
      pool.use((db) => db.query('SELECT pg_sleep(5)'), {
        destroyOnError: (error) => error instanceof Timeout,
      }),
    );
    console.log('the 5 s query finished?!');
  } catch (error) {
    if (!(error instanceof Timeout)) throw error;
    console.log(
      `a 5 s query timed out cleanly after ${Math.round(performance.now() - cutShort)} ms: ${error.message}`,
    );
  }

  // The pool is still healthy: the next query gets a working connection.
  const { rows: after } = await pool.use((db) => db.query('SELECT 42 AS answer'));
  console.log(`after the timeout: answer ${after[0].answer}; pool stats: ${JSON.stringify(pool.stats)}`);

  await pool.drain({ timeout: 10_000 });
  console.log(`drained: ${JSON.stringify(pool.stats)}`);
});
