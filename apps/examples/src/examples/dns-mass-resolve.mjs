// Resolve many names concurrently with a Pool, each lookup under its own
// Timeout. Mirrors gevent's examples/dns_mass_resolve.py — but with local names
// only (localhost and the names of /etc/hosts), so it needs no network.
//
// Run: node src/examples/dns-mass-resolve.mjs     (GREENHUB_HUB=pure ... for hub-pure)
// Resolves every name 25 times, 10 lookups at a time, with the 'system'
// resolver (getaddrinfo) and then with 'ares' (c-ares, which answers
// hosts-file names itself), prints the answers and the counts, and exits 0.
import { readFileSync } from 'node:fs';
import { configure, getHub, run, Timeout } from '@greenhub/core';
import { resolve } from '@greenhub/net';
import { Pool } from '@greenhub/sync';

function localNames() {
  const names = new Set(['localhost']);
  for (const line of readFileSync('/etc/hosts', 'utf8').split('\n')) {
    const [address, ...aliases] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (address) for (const name of aliases) names.add(name);
  }
  return [...names];
}

async function lookup(name) {
  const timeout = Timeout.startNew(2000);
  try {
    const [first] = await resolve(name);
    return { name, answer: first.address };
  } catch (err) {
    return { name, error: err === timeout ? 'timed out' : err.code };
  } finally {
    timeout.close();
  }
}

await run(async function main() {
  const names = localNames();
  const lookups = Array.from({ length: 25 }, () => names).flat();
  console.log(`hub ${getHub().name}: ${names.length} local names, ${lookups.length} lookups, 10 at a time`);
  for (const resolver of ['system', 'ares']) {
    configure({ resolver }); // read at each lookup
    const answers = new Map();
    let failed = 0;
    const t0 = performance.now();
    for await (const r of new Pool(10).imapUnordered(lookup, lookups)) {
      if (r.error) failed += 1;
      answers.set(r.name, r.error ?? r.answer);
    }
    const ms = Math.round(performance.now() - t0);
    console.log(`${resolver}: ${lookups.length - failed} resolved, ${failed} failed, in ${ms} ms`);
    for (const name of names) console.log(`  ${name} -> ${answers.get(name)}`); // answers came in any order
  }
});
