import { cpSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  availableHubs,
  configure,
  getHub,
  getSettings,
  type Hub,
  type HubFactory,
  type HubOptions,
  hubSpecifier,
  resetHub,
} from '../src/index.js';
import { resetSettings } from '../src/registry.js';
import { CORE_URL, runScript, scratchDir } from './helpers/child.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const hubPureDir = path.resolve(here, '../../hub-pure');
const coreDistDir = path.resolve(here, '../dist');

/** The pure hub's factory, loaded the way the registry loads hubs (CJS, at run time). */
function pureFactory(): HubFactory {
  const require = createRequire(import.meta.url);
  return (require(hubPureDir) as { createHub: HubFactory }).createHub;
}

/** A hub that behaves like `inner` but reports another name. */
function renamed(inner: Hub, name: string): Hub {
  return new Proxy(inner, {
    get(target, key) {
      if (key === 'name') return name;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe('hub registry', () => {
  const scratch = scratchDir('registry');
  const customHub = path.join(scratch.dir, 'custom-hub.cjs');
  const notAHub = path.join(scratch.dir, 'not-a-hub.cjs');
  const throwingHub = path.join(scratch.dir, 'throwing-hub.cjs');

  beforeAll(() => {
    writeFileSync(
      customHub,
      [
        `const pure = require(${JSON.stringify(hubPureDir)});`,
        'exports.createHub = (options) => {',
        '  const hub = pure.createHub(options);',
        "  return new Proxy(hub, { get: (t, k) => (k === 'name' ? 'custom' : typeof t[k] === 'function' ? t[k].bind(t) : t[k]) });",
        '};',
        '',
      ].join('\n'),
    );
    writeFileSync(notAHub, 'exports.somethingElse = 1;\n');
    writeFileSync(throwingHub, "exports.createHub = () => { throw new Error('no event loop today'); };\n");
  });
  afterAll(() => scratch.remove());
  beforeEach(() => {
    resetHub();
    resetSettings();
  });
  afterEach(() => {
    resetHub();
    resetSettings();
  });

  it("configure({ hub: 'pure' }) makes getHub() create the pure hub, once", () => {
    configure({ hub: 'pure' });
    const hub = getHub();
    expect(hub.name).toBe('pure');
    expect(typeof hub.backend).toBe('string');
    expect(getHub()).toBe(hub);
  });

  it('configure({ hub }) after the hub was created throws ERR_HUB_ALREADY_CREATED', () => {
    configure({ hub: 'pure' });
    getHub();
    expect(codeOf(() => configure({ hub: 'pure' }))).toBe('ERR_HUB_ALREADY_CREATED');
    // Settings other than the hub can still change.
    configure({ threadpoolSize: 8 });
    expect(getSettings().threadpoolSize).toBe(8);
  });

  it('resetHub() closes the hub, and the next getHub() creates a new one', () => {
    configure({ hub: 'pure' });
    const first = getHub();
    resetHub();
    expect(codeOf(() => first.callback(() => {}))).toBe('ERR_HUB_CLOSED');
    const second = getHub();
    expect(second).not.toBe(first);
    expect(second.name).toBe('pure');
    resetHub();
    resetHub();
  });

  it('after resetHub() the hub can be configured again', () => {
    configure({ hub: 'pure' });
    getHub();
    resetHub();
    configure({ hub: customHub });
    expect(getHub().name).toBe('custom');
  });

  it('a hub list is tried in order: the first that loads wins', () => {
    configure({ hub: 'nonexistent, pure' });
    expect(getHub().name).toBe('pure');
    resetHub();
    configure({ hub: [customHub, 'pure'] });
    expect(getHub().name).toBe('custom');
  });

  it('a module path loads a hub module that exports createHub(options)', async () => {
    configure({ hub: customHub });
    const hub = getHub();
    expect(hub.name).toBe('custom');
    // It is a working hub.
    await new Promise<void>((resolve) => hub.callback(resolve));
  });

  it('configure({ hub: factory }) creates the hub with that function, passing the hub options', () => {
    const given: (HubOptions | undefined)[] = [];
    configure({
      hub: (options) => {
        given.push(options);
        return renamed(pureFactory()(options), 'from-factory');
      },
    });
    expect(getHub().name).toBe('from-factory');
    expect(given).toHaveLength(1);
    expect(typeof given[0]?.onError).toBe('function');
  });

  it('when no hub loads, ERR_NO_HUB lists every hub tried, why it failed and what to do', () => {
    const missing = path.join(scratch.dir, 'missing-hub.cjs');
    configure({ hub: ['nonexistent', missing, notAHub, throwingHub] });
    let error: (Error & { code?: string }) | undefined;
    try {
      getHub();
    } catch (err) {
      error = err as Error & { code?: string };
    }
    expect(error?.code).toBe('ERR_NO_HUB');
    const message = error?.message ?? '';
    expect(message).toContain('@greenhub/hub-nonexistent');
    expect(message).toContain('npm install @greenhub/hub-nonexistent');
    expect(message).toContain(missing);
    expect(message).toContain('not found');
    expect(message).toContain(notAHub);
    expect(message).toContain('createHub');
    expect(message).toContain('no event loop today');
    // In the order tried, and with what to do about it.
    expect(message.indexOf('nonexistent')).toBeLessThan(message.indexOf(missing));
    expect(message.indexOf(missing)).toBeLessThan(message.indexOf(notAHub));
    expect(message).toContain('npm install @greenhub/hub-pure');
  });

  it('availableHubs() lists libev and pure, with the reason when one cannot load', () => {
    const hubs = availableHubs();
    const names = hubs.map((h) => h.name);
    expect(names).toContain('libev');
    expect(names).toContain('pure');
    expect(hubs.find((h) => h.name === 'pure')).toEqual({ name: 'pure', available: true });
    for (const hub of hubs) {
      if (!hub.available) expect(hub.reason, `reason for ${hub.name}`).toMatch(/\S/);
    }
  });

  it('availableHubs() also lists the configured hubs', () => {
    configure({ hub: [customHub, 'nonexistent'] });
    const hubs = availableHubs();
    expect(hubs.find((h) => h.name === customHub)?.available).toBe(true);
    expect(hubs.find((h) => h.name === 'nonexistent')).toMatchObject({ available: false });
  });

  it('a short name means @greenhub/hub-<name>; anything else is a module specifier', () => {
    expect(hubSpecifier('libev')).toBe('@greenhub/hub-libev');
    expect(hubSpecifier('pure')).toBe('@greenhub/hub-pure');
    expect(hubSpecifier('./my-hub.cjs')).toBe('./my-hub.cjs');
    expect(hubSpecifier('@acme/greenhub-uring')).toBe('@acme/greenhub-uring');
  });

  it('configure rejects invalid settings with a code', () => {
    expect(codeOf(() => configure({ hub: ' , ' }))).toBe('ERR_INVALID_ARG_VALUE');
    expect(codeOf(() => configure({ threadpoolSize: 0 }))).toBe('ERR_OUT_OF_RANGE');
    expect(codeOf(() => configure({ resolver: 'bind' as 'ares' }))).toBe('ERR_INVALID_ARG_VALUE');
  });
});

describe('GREENHUB_HUB (child processes)', () => {
  const scratch = scratchDir('registry-env');
  afterAll(() => scratch.remove());

  const probe = (coreUrl: string): string =>
    [
      `import { availableHubs, getHub } from ${JSON.stringify(coreUrl)};`,
      'try {',
      '  console.log(JSON.stringify({ name: getHub().name, hubs: availableHubs() }));',
      '} catch (err) {',
      '  console.log(JSON.stringify({ code: err.code, message: err.message }));',
      '}',
      '',
    ].join('\n');

  it('without GREENHUB_HUB the list is libev,pure: libev when it loads, else pure', async () => {
    const result = await runScript(scratch.dir, 'default.mjs', probe(CORE_URL), {
      env: { GREENHUB_HUB: undefined },
    });
    expect(result.code, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout) as { name: string; hubs: { name: string; available: boolean }[] };
    const libev = out.hubs.find((h) => h.name === 'libev');
    expect(out.name).toBe(libev?.available ? 'libev' : 'pure');
  });

  it('without GREENHUB_HUB and no hub installed, the error shows the default list libev,pure, in that order', async () => {
    // A copy of core with no hub package next to it.
    const isolated = path.join(scratch.dir, 'isolated', 'node_modules', '@greenhub', 'core');
    cpSync(coreDistDir, path.join(isolated, 'dist'), { recursive: true });
    cpSync(path.resolve(here, '../package.json'), path.join(isolated, 'package.json'));
    const url = pathToFileURL(path.join(isolated, 'dist', 'index.js')).href;
    const result = await runScript(scratch.dir, 'isolated.mjs', probe(url), {
      env: { GREENHUB_HUB: undefined },
    });
    expect(result.code, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout) as { code: string; message: string };
    expect(out.code).toBe('ERR_NO_HUB');
    expect(out.message).toContain('GREENHUB_HUB=libev,pure');
    expect(out.message.indexOf('@greenhub/hub-libev')).toBeGreaterThan(-1);
    expect(out.message.indexOf('@greenhub/hub-libev')).toBeLessThan(
      out.message.indexOf('@greenhub/hub-pure'),
    );
  });

  it('GREENHUB_HUB=pure selects the pure hub', async () => {
    const result = await runScript(scratch.dir, 'pure.mjs', probe(CORE_URL), {
      env: { GREENHUB_HUB: 'pure' },
    });
    expect(result.code, result.stderr).toBe(0);
    expect((JSON.parse(result.stdout) as { name: string }).name).toBe('pure');
  });

  it('GREENHUB_HUB=nonexistent fails with ERR_NO_HUB naming the package and how to install it', async () => {
    const result = await runScript(scratch.dir, 'none.mjs', probe(CORE_URL), {
      env: { GREENHUB_HUB: 'nonexistent' },
    });
    expect(result.code, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout) as { code: string; message: string };
    expect(out.code).toBe('ERR_NO_HUB');
    expect(out.message).toContain('@greenhub/hub-nonexistent');
    expect(out.message).toContain('npm install');
  });
});
