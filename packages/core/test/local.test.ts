import { expect, it } from 'vitest';
import { Local, sleep, spawn } from '../src/index.js';
import { describeEachHub } from '../src/testing/index.js';

describeEachHub('Local', () => {
  it('each greenlet sees its own value', async () => {
    const requestId = new Local<string>();
    const handler = async (id: string): Promise<string | undefined> => {
      requestId.set(id);
      await sleep(0);
      return requestId.get();
    };
    const gs = ['a', 'b', 'c'].map((id) => spawn(handler, id));
    expect(await Promise.all(gs.map((g) => g.get()))).toEqual(['a', 'b', 'c']);
  });

  it('a greenlet keeps its value across awaits and nested async calls', async () => {
    const user = new Local<{ name: string }>();
    async function whoAmI(): Promise<string | undefined> {
      await sleep(1);
      await Promise.resolve();
      return user.get()?.name;
    }
    const g = spawn(async () => {
      user.set({ name: 'ada' });
      await sleep(0);
      return [await whoAmI(), await whoAmI()];
    });
    const other = spawn(async () => {
      user.set({ name: 'grace' });
      return whoAmI();
    });
    expect(await g.get()).toEqual(['ada', 'ada']);
    expect(await other.get()).toBe('grace');
  });

  it('a greenlet that never set a value sees undefined, even when its spawner has one', async () => {
    const local = new Local<string>();
    const parent = spawn(async () => {
      local.set('parent value');
      const child = spawn(() => local.get());
      return { child: await child.get(), parent: local.get() };
    });
    expect(await parent.get()).toEqual({ child: undefined, parent: 'parent value' });
  });

  it('getOrInit creates the value once per greenlet', async () => {
    let created = 0;
    const cache = new Local<Map<string, number>>();
    const init = (): Map<string, number> => {
      created++;
      return new Map();
    };
    const worker = async (): Promise<boolean> => {
      const first = cache.getOrInit(init);
      await sleep(0);
      return cache.getOrInit(init) === first;
    };
    const gs = [spawn(worker), spawn(worker)];
    expect(await Promise.all(gs.map((g) => g.get()))).toEqual([true, true]);
    expect(created).toBe(2);
  });

  it("code outside greenlets has main's value, separate from every greenlet's", async () => {
    const local = new Local<string>();
    local.set('main value');
    try {
      const g = spawn(async () => {
        const before = local.get();
        local.set('greenlet value');
        await sleep(0);
        return { before, after: local.get() };
      });
      expect(await g.get()).toEqual({ before: undefined, after: 'greenlet value' });
      expect(local.get()).toBe('main value');
    } finally {
      local.delete();
    }
    expect(local.get()).toBeUndefined();
  });
});
