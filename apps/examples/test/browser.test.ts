// The chat in a real browser: Debian's chromium driven by playwright-core.
// Chromium is required, never skipped: in CI (.ci/run installs it) and locally,
// a missing browser fails these tests with how to install it.
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { hubsUnderTest, requiredHubs } from '@greenhub/core/testing';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Demo, startDemo } from './demo-process.js';

const WAIT = 10_000;

/** The chromium to drive: $CHROMIUM_PATH, /usr/bin/chromium, or chromium / chromium-browser on PATH. */
function findChromium(): string | undefined {
  const executable = (path: string): boolean => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  for (const path of [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (path && executable(path)) return path;
  }
  try {
    const found = execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], {
      encoding: 'utf8',
      timeout: 5000,
    }).trim();
    return found || undefined;
  } catch {
    return undefined;
  }
}

const NO_CHROMIUM = [
  'chromium is needed for the browser tests and was not found',
  '(looked at $CHROMIUM_PATH, /usr/bin/chromium, /usr/bin/chromium-browser, and chromium on PATH).',
  'Install it: `apt-get install chromium` on Debian (`chromium-browser` on Ubuntu),',
  'or point CHROMIUM_PATH at a Chrome/Chromium executable.',
  process.env.CI ? 'In CI, .ci/run installs it: it must be present there.' : '',
].join(' ');

let browser: Browser | undefined;
/** Why there is no browser: each test fails with it (a failing hook would only mark them skipped). */
let noBrowser: Error | undefined;
/** Script errors and console errors (a CSP violation is one) of each page. */
const problems = new WeakMap<Page, string[]>();

beforeAll(async () => {
  const executablePath = findChromium();
  if (executablePath === undefined) {
    noBrowser = new Error(NO_CHROMIUM);
    return;
  }
  try {
    browser = await chromium.launch({
      executablePath,
      // Chromium refuses to start its sandbox as root (CI runs as root).
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
      timeout: 30_000,
    });
  } catch (err) {
    noBrowser = new Error(`could not launch ${executablePath}: ${(err as Error).message}`, { cause: err });
  }
}, 60_000);

afterAll(async () => {
  await browser?.close();
}, 30_000);

/** A page in a browser context of its own (another user), opened on the chat and connected to its stream. */
async function openChat(demo: Demo, name: string): Promise<Page> {
  if (browser === undefined) throw noBrowser;
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  const seen: string[] = [];
  problems.set(page, seen);
  page.on('pageerror', (err) => seen.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') seen.push(msg.text());
  });
  await page.goto(demo.chat.href, { timeout: WAIT });
  await page.locator('#status.connected').waitFor();
  await page.fill('#name', name);
  return page;
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.click('button[type=submit]');
  await expect.poll(() => page.inputValue('#text'), { timeout: WAIT }).toBe(''); // cleared once sent
}

describe('the chat in a browser', () => {
  for (const hub of hubsUnderTest()) {
    const skip = !hub.available && !requiredHubs().includes(hub.name);
    describe.skipIf(skip)(`on hub ${hub.name}`, { timeout: 60_000 }, () => {
      let demo: Demo;
      beforeAll(async () => {
        demo = await startDemo(hub.name);
      }, 30_000);
      afterAll(async () => {
        for (const context of browser?.contexts() ?? []) await context.close();
        demo?.kill();
      }, 30_000);

      it('shows a message sent in one page in the other, live', async () => {
        const alice = await openChat(demo, 'alice');
        const bob = await openChat(demo, 'bob');
        await expect.poll(() => bob.textContent('#online'), { timeout: WAIT }).toBe('2 online');
        expect(await bob.textContent('#hub')).toBe(`on hub ${hub.name}`);

        await say(alice, `hello bob, from hub ${hub.name}`);
        const received = bob.locator('#messages li.message', { hasText: `hello bob, from hub ${hub.name}` });
        await received.waitFor();
        expect(await received.locator('b').textContent()).toBe('alice');

        await say(bob, 'hi alice');
        await alice.locator('#messages li.message', { hasText: 'hi alice' }).waitFor();
        expect(problems.get(alice)).toEqual([]);
        expect(problems.get(bob)).toEqual([]);
      });

      it('shows user text as text, never as markup', async () => {
        const mallory = await openChat(demo, '<i>mallory</i>');
        const carol = await openChat(demo, 'carol');
        const attack = '<img src=x onerror="window.pwned = 1"><script>window.pwned = 2</script>';
        await say(mallory, attack);
        const shown = carol.locator('#messages li.message', { hasText: 'window.pwned' });
        await shown.waitFor();
        expect(await shown.locator('b').textContent()).toBe('<i>mallory</i>');
        expect(await shown.textContent()).toContain(attack);
        expect(await carol.locator('#messages img, #messages script, #messages i').count()).toBe(0);
        expect(await carol.evaluate(() => (globalThis as { pwned?: number }).pwned)).toBeUndefined();
      });

      it('shows a late page the messages sent before it opened', async () => {
        const dave = await openChat(demo, 'dave');
        const messages = dave.locator('#messages li.message');
        await expect.poll(() => messages.count(), { timeout: WAIT }).toBe(3);
        expect(await messages.allTextContents()).toEqual([
          expect.stringContaining(`alice: hello bob, from hub ${hub.name}`),
          expect.stringContaining('bob: hi alice'),
          expect.stringContaining('<i>mallory</i>: <img src=x'),
        ]);
      });
    });
  }
});
