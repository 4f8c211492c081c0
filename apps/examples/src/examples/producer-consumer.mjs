// Producers and consumers around a bounded JoinableQueue; join() waits until
// every item was processed. Mirrors gevent's examples of gevent.queue
// (JoinableQueue with task_done()/join(), as in the gevent tutorial).
//
// Run: node src/examples/producer-consumer.mjs    (GREENHUB_HUB=pure ... for hub-pure)
// Two producers put 6 jobs each into a queue of at most 3 items; three
// consumers process them; the example prints who did what and exits 0.
import { getHub, joinall, run, sleep, spawn } from '@greenhub/core';
import { JoinableQueue } from '@greenhub/sync';

const jobs = new JoinableQueue(3); // put() waits while 3 jobs are queued: backpressure
const doneBy = new Map();

async function producer(name, count) {
  for (let i = 1; i <= count; i++) {
    await jobs.put(`${name}-${i}`);
    console.log(`${name} put ${name}-${i} (queued: ${jobs.qsize()})`);
  }
}

async function consumer(name) {
  for await (const job of jobs) {
    await sleep(5 + Math.random() * 10); // some work
    doneBy.set(name, (doneBy.get(name) ?? 0) + 1);
    console.log(`  ${name} did ${job}`);
    jobs.taskDone();
  } // the loop ends at shutdown(), once the queue is empty
  return name;
}

await run(async function main() {
  console.log(`hub ${getHub().name}`);
  const consumers = ['worker-a', 'worker-b', 'worker-c'].map((name) => spawn(consumer, name));
  await joinall([spawn(producer, 'alpha', 6), spawn(producer, 'beta', 6)], { raiseError: true });
  await jobs.join(); // every job taken *and* marked done
  console.log(`all jobs done; unfinished tasks: ${jobs.unfinishedTasks}`);
  jobs.shutdown();
  await joinall(consumers, { raiseError: true });
  const total = [...doneBy.values()].reduce((a, b) => a + b, 0);
  console.log(`consumers finished: ${[...doneBy].map(([n, c]) => `${n}=${c}`).join(', ')}; total ${total}`);
});
