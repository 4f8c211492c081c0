import { idle, spawn } from '@greenhub/core';
import { describeEachHub } from '@greenhub/core/testing';
import { expect, it } from 'vitest';
import { PriorityQueue } from '../src/priority-queue.js';
import { QueueEmpty } from '../src/queue-errors.js';

describeEachHub('PriorityQueue', () => {
  it('returns the lowest number first by default', async () => {
    const q = new PriorityQueue<number>();
    for (const n of [5, 1, 4, 2, 3]) q.putNowait(n);
    const out: number[] = [];
    while (!q.empty()) out.push(await q.get());
    expect(out).toEqual([1, 2, 3, 4, 5]);
  });

  it('orders strings ascending by default', () => {
    const q = new PriorityQueue<string>();
    for (const s of ['pear', 'apple', 'fig']) q.putNowait(s);
    expect([q.getNowait(), q.getNowait(), q.getNowait()]).toEqual(['apple', 'fig', 'pear']);
  });

  it('a custom compare decides the order', () => {
    const q = new PriorityQueue<number>(undefined, (a, b) => b - a);
    for (const n of [1, 3, 2]) q.putNowait(n);
    expect([q.getNowait(), q.getNowait(), q.getNowait()]).toEqual([3, 2, 1]);
  });

  it('items of equal priority come out in the order they were put', () => {
    type Job = { prio: number; name: string };
    const q = new PriorityQueue<Job>(undefined, (a, b) => a.prio - b.prio);
    const names = Array.from({ length: 50 }, (_, i) => `job${i}`);
    names.forEach((name, i) => {
      q.putNowait({ prio: i % 3, name });
    });
    const out: Job[] = [];
    while (!q.empty()) out.push(q.getNowait());
    for (const prio of [0, 1, 2]) {
      const same = out.filter((j) => j.prio === prio).map((j) => j.name);
      expect(same).toEqual(names.filter((_, i) => i % 3 === prio));
    }
    expect(out.map((j) => j.prio)).toEqual([...out.map((j) => j.prio)].sort((a, b) => a - b));
  });

  it('sorts 2000 random numbers like Array.prototype.sort', () => {
    const q = new PriorityQueue<number>();
    const values = Array.from({ length: 2000 }, () => Math.floor(Math.random() * 500));
    for (const v of values) q.putNowait(v);
    const out: number[] = [];
    while (!q.empty()) out.push(q.getNowait());
    expect(out).toEqual([...values].sort((a, b) => a - b));
  });

  it('peek() shows the lowest item without removing it', async () => {
    const q = new PriorityQueue<number>();
    q.putNowait(3);
    q.putNowait(1);
    expect(await q.peek()).toBe(1);
    expect(q.qsize()).toBe(2);
  });

  it('a bounded PriorityQueue admits a blocked putter in priority order once room frees', async () => {
    const q = new PriorityQueue<number>(2);
    q.putNowait(5);
    q.putNowait(6);
    const putter = spawn(() => q.put(1));
    await idle();
    expect(q.getNowait()).toBe(5);
    expect(q.getNowait()).toBe(1);
    expect(q.getNowait()).toBe(6);
    expect(() => q.getNowait()).toThrow(QueueEmpty);
    await putter.join();
  });

  it('a compare that is not a function is a TypeError', () => {
    expect(
      () => new PriorityQueue<number>(undefined, 'desc' as unknown as (a: number, b: number) => number),
    ).toThrow(TypeError);
  });
});
