import { configure, idle, spawn } from '@greenhub/core';
import { describeEachHub } from '@greenhub/core/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { JoinableQueue } from '../src/joinable-queue.js';
import { QueueShutDown } from '../src/queue-errors.js';

describeEachHub('JoinableQueue', () => {
  beforeEach(() => configure({ onError: () => {} }));
  afterEach(() => configure({ onError: undefined }));

  it('join() returns at once when nothing was put', async () => {
    const q = new JoinableQueue<number>();
    expect(await q.join()).toBe(true);
    expect(q.unfinishedTasks).toBe(0);
  });

  it('join() waits until every item put is marked done', async () => {
    const q = new JoinableQueue<number>();
    const done: number[] = [];
    const worker = spawn(async () => {
      for await (const item of q) {
        done.push(item);
        q.taskDone();
      }
    });
    for (let i = 0; i < 5; i++) await q.put(i);
    expect(q.unfinishedTasks).toBeGreaterThan(0);
    expect(await q.join()).toBe(true);
    expect(done).toEqual([0, 1, 2, 3, 4]);
    expect(q.unfinishedTasks).toBe(0);
    q.shutdown();
    await worker.join();
  });

  it('an item handed straight to a waiting getter counts as unfinished until taskDone()', async () => {
    const q = new JoinableQueue<string>();
    const g = spawn(() => q.get());
    await idle();
    q.putNowait('x');
    expect(q.unfinishedTasks).toBe(1);
    await g.join();
    q.taskDone();
    expect(q.unfinishedTasks).toBe(0);
  });

  it('join(timeout) returns false when tasks are still unfinished', async () => {
    const q = new JoinableQueue<number>();
    q.putNowait(1);
    expect(await q.join(5)).toBe(false);
  });

  it('taskDone() more times than items were put throws ERR_QUEUE_TASK_DONE', () => {
    const q = new JoinableQueue<number>();
    q.putNowait(1);
    q.getNowait();
    q.taskDone();
    let err: unknown;
    try {
      q.taskDone();
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string }).code).toBe('ERR_QUEUE_TASK_DONE');
  });

  it('a join that timed out or was killed does not take the wake-up from a later join', async () => {
    const q = new JoinableQueue<number>();
    q.putNowait(1);
    expect(await q.join(1)).toBe(false);
    const killed = spawn(() => q.join());
    const live = spawn(() => q.join());
    await idle();
    expect(live.waitingOn).toBe('Queue.join');
    await killed.kill();
    q.getNowait();
    q.taskDone();
    expect(await live.get()).toBe(true);
  });

  it('shutdown(true) counts the dropped items as done, releasing join() once taken items are done', async () => {
    const q = new JoinableQueue<number>();
    for (let i = 0; i < 3; i++) q.putNowait(i);
    q.getNowait();
    const joiner = spawn(() => q.join());
    await idle();
    q.shutdown(true);
    expect(q.unfinishedTasks).toBe(1);
    await idle();
    expect(joiner.dead).toBe(false);
    q.taskDone();
    expect(await joiner.get()).toBe(true);
  });

  it('shutdown(true) with no item in progress releases join() at once', async () => {
    const q = new JoinableQueue<number>();
    q.putNowait(1);
    q.putNowait(2);
    const joiner = spawn(() => q.join());
    const getter = spawn(async () => {
      await q.join();
      return q.get();
    });
    await idle();
    q.shutdown(true);
    expect(await joiner.get()).toBe(true);
    await getter.join();
    expect(getter.exception).toBeInstanceOf(QueueShutDown);
  });
});
