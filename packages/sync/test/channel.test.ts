import { configure, idle, spawn, Timeout } from '@greenhub/core';
import { describeEachHub } from '@greenhub/core/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Channel } from '../src/channel.js';
import { Queue } from '../src/queue.js';
import { QueueEmpty, QueueFull, QueueShutDown } from '../src/queue-errors.js';

async function caught(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (err: unknown) => err,
  );
}

describeEachHub('Channel', () => {
  beforeEach(() => configure({ onError: () => {} }));
  afterEach(() => configure({ onError: undefined }));

  it('is a Queue with maxsize 0 that holds nothing: qsize 0, empty and full', () => {
    const ch = new Channel<number>();
    expect(ch).toBeInstanceOf(Queue);
    expect(ch.maxsize).toBe(0);
    expect(ch.qsize()).toBe(0);
    expect(ch.empty()).toBe(true);
    expect(ch.full()).toBe(true);
  });

  it('put() waits until a getter takes the item', async () => {
    const ch = new Channel<string>();
    const log: string[] = [];
    const putter = spawn(async () => {
      await ch.put('hi');
      log.push('put returned');
    });
    await idle();
    expect(putter.waitingOn).toBe('Queue.put');
    expect(log).toEqual([]);
    expect(ch.qsize()).toBe(0);
    expect(await ch.get()).toBe('hi');
    await putter.join();
    expect(log).toEqual(['put returned']);
  });

  it('get() waits for a putter', async () => {
    const ch = new Channel<number>();
    const getter = spawn(() => ch.get());
    await idle();
    expect(getter.waitingOn).toBe('Queue.get');
    await ch.put(42);
    expect(await getter.get()).toBe(42);
  });

  it('putNowait() without a waiting getter throws QueueFull; with one it hands the item over', async () => {
    const ch = new Channel<number>();
    expect(() => ch.putNowait(1)).toThrow(QueueFull);
    const getter = spawn(() => ch.get());
    await idle();
    ch.putNowait(2);
    expect(await getter.get()).toBe(2);
  });

  it('getNowait() takes the item of a waiting putter, else throws QueueEmpty', async () => {
    const ch = new Channel<number>();
    expect(() => ch.getNowait()).toThrow(QueueEmpty);
    const putter = spawn(() => ch.put(3));
    await idle();
    expect(ch.peekNowait()).toBe(3);
    expect(ch.getNowait()).toBe(3);
    await putter.join();
    expect(putter.successful()).toBe(true);
  });

  it('putters are served in order', async () => {
    const ch = new Channel<string>();
    const ps = ['a', 'b', 'c'].map((x) => spawn(() => ch.put(x)));
    await idle();
    expect([await ch.get(), await ch.get(), await ch.get()]).toEqual(['a', 'b', 'c']);
    for (const p of ps) await p.join();
  });

  it('a put that timed out or was killed never delivers its item to a later get', async () => {
    const ch = new Channel<string>();
    expect(await caught(ch.put('timed out', { timeout: 1 }))).toBeInstanceOf(QueueFull);
    const killed = spawn(() => ch.put('killed'));
    const live = spawn(() => ch.put('live'));
    await idle();
    await killed.kill();
    expect(await ch.get()).toBe('live');
    await live.join();
    expect(await caught(ch.get({ timeout: 1 }))).toBeInstanceOf(QueueEmpty);
  });

  it('a get that timed out or was killed never swallows a later put', async () => {
    const ch = new Channel<string>();
    expect(await caught(ch.get({ timeout: 1 }))).toBeInstanceOf(QueueEmpty);
    const killed = spawn(() => ch.get());
    const timedOut = spawn(async () => {
      using _ = Timeout.startNew(1);
      return await ch.get();
    });
    await timedOut.join();
    const live = spawn(() => ch.get());
    await idle();
    await killed.kill();
    await ch.put('x');
    expect(await live.get()).toBe('x');
  });

  it('shutdown() wakes waiting putters with QueueShutDown; their items are not delivered', async () => {
    const ch = new Channel<number>();
    const putter = spawn(() => ch.put(1));
    await idle();
    ch.shutdown();
    await putter.join();
    expect(putter.exception).toBeInstanceOf(QueueShutDown);
    expect(await caught(ch.get())).toBeInstanceOf(QueueShutDown);
  });

  it('async iteration receives every item put and ends at shutdown', async () => {
    const ch = new Channel<number>();
    const seen: number[] = [];
    const consumer = spawn(async () => {
      for await (const n of ch) seen.push(n);
    });
    for (let i = 0; i < 5; i++) await ch.put(i);
    ch.shutdown();
    await consumer.join();
    expect(consumer.successful()).toBe(true);
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });
});
