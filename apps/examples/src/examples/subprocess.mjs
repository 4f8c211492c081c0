// Child processes without blocking the hub: runProcess (run to completion,
// capture output) and spawnProcess (talk to a running child), and a child cut
// short by a timeout. Mirrors gevent's examples/processes.py.
//
// Run: node src/examples/subprocess.mjs           (GREENHUB_HUB=pure ... for hub-pure)
// Runs `ls`, `sh -c` with input, a line-by-line conversation with a child, and
// `sleep 30` under a 200 ms timeout — while a ticker greenlet keeps ticking.
// Exits 0.
import { fileURLToPath } from 'node:url';
import { getHub, run, sleep, spawn } from '@greenhub/core';
import { runProcess, spawnProcess } from '@greenhub/net';

const text = (bytes) => Buffer.from(bytes).toString().trim();

await run(async function main() {
  console.log(`hub ${getHub().name}`);
  let ticks = 0;
  const ticker = spawn(async () => {
    for (;;) {
      await sleep(10);
      ticks += 1;
    }
  });
  try {
    const here = fileURLToPath(new URL('.', import.meta.url));
    const ls = await runProcess('ls', [here], { timeout: 5000 });
    const files = text(ls.stdout).split('\n');
    console.log(`ls: exit ${ls.exitCode}, lists subprocess.mjs: ${files.includes('subprocess.mjs')}`);

    const sh = await runProcess('/bin/sh', ['-c', 'tr a-z A-Z; echo oops >&2; exit 3'], {
      input: 'hello\n',
      timeout: 5000,
    });
    console.log(`sh -c: exit ${sh.exitCode}, stdout "${text(sh.stdout)}", stderr "${text(sh.stderr)}"`);

    const child = spawnProcess('/bin/sh', ['-c', 'while read line; do echo "you said: $line"; done']);
    try {
      for (const line of ['hi', 'bye']) {
        await child.stdin.write(`${line}\n`);
        console.log(`child: ${await child.stdout.readLine()}`);
      }
      await child.stdin.end(); // the loop reads end of input and the shell exits
      console.log(`child: exit ${await child.wait(5000)}`);
    } finally {
      await child[Symbol.asyncDispose](); // what `await using` does: kill it if still running, close the pipes
    }

    const t0 = performance.now();
    try {
      await runProcess('sleep', ['30'], { timeout: 200 });
    } catch (err) {
      console.log(
        `sleep 30: ${err.code} after ${Math.round(performance.now() - t0)} ms (runProcess SIGKILLed the child)`,
      );
    }
    console.log(`the ticker kept ticking meanwhile: ${ticks > 0 ? 'yes' : 'no'}`);
  } finally {
    await ticker.kill();
  }
});
