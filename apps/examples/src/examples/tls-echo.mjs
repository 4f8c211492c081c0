// A TLS echo server (StreamServer with `tls`) and a client that trusts its
// self-signed certificate (`connect({ tls: { ca } })`). Mirrors gevent's
// examples/echoserver.py run with TLS, as in examples/wsgiserver_ssl.py.
//
// Run: node src/examples/tls-echo.mjs             (GREENHUB_HUB=pure ... for hub-pure)
// It makes a throw-away certificate for localhost with /usr/bin/openssl in a
// temporary directory (removed at exit), serves on 127.0.0.1 with a free port,
// echoes two lines over TLS, shows that a client without the CA is refused,
// stops and exits 0.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHub, run } from '@greenhub/core';
import { connect, runProcess, StreamServer, tlsInfo } from '@greenhub/net';

async function selfSignedCert(dir) {
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  args.push(
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
  );
  args.push('-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1');
  const r = await runProcess('/usr/bin/openssl', args, { timeout: 10_000 });
  if (r.exitCode !== 0) throw new Error(`openssl failed: ${Buffer.from(r.stderr).toString()}`);
  return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
}

async function echo(sock) {
  for (let line; (line = await sock.readLine()) !== null; ) await sock.write(`echo: ${line}\n`);
}

await run(async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'greenhub-tls-'));
  try {
    const { key, cert } = await selfSignedCert(dir);
    const server = new StreamServer({ port: 0 }, echo, { tls: { key, cert } });
    await server.start();
    console.log(`TLS echo server on 127.0.0.1:${server.address.port} (hub ${getHub().name})`);
    try {
      const sock = await connect({
        host: 'localhost',
        port: server.address.port,
        tls: { ca: cert },
        timeout: 5000,
      });
      sock.timeout = 5000;
      const info = tlsInfo(sock);
      console.log(`client: ${info.protocol}, certificate verified: ${info.authorized}`);
      for (const line of ['hello over TLS', 'bye']) {
        await sock.write(`${line}\n`);
        console.log(`client got: ${await sock.readLine()}`);
      }
      sock.close();

      try {
        (await connect({ host: 'localhost', port: server.address.port, tls: true, timeout: 5000 })).close();
      } catch (err) {
        console.log(`a client without the CA is refused: ${err.code}`);
      }
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
