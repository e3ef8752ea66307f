/**
 * A connect link in a real browser (issue 17 "Done when"): headless Chromium opens the `invite` link served
 * by `box-qc serve`, is redirected to the emulator's consent page, grants, and lands on serve's callback page;
 * the grant is in the store, and the emulator's record shows the invite token in no URL and no Referer.
 * The same Chromium set-up as browser-connect.test.ts (missing Chromium: skipped, but a failure under CI).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { describeResult } from '../helpers/run-cli.js';
import { CLIENT_SECRET, EMAIL, cliEnv, readStore, tempStore } from './connect-helpers.js';
import { assertCleanLog, assertTokenNeverSentToBox, freePort, invite, startServe } from './serve-helpers.js';

const CHROMIUM = process.env.BOX_QC_CHROMIUM ?? '/usr/bin/chromium';
const inCI = Boolean(process.env.CI) && process.env.CI !== 'false' && process.env.CI !== '0';
const available = existsSync(CHROMIUM);
if (!available && !inCI)
  console.log(`skipping the real-browser serve test: ${CHROMIUM} is not installed (required when CI is set)`);

let emu: Emulator;
let profile: string;
beforeEach(async () => {
  emu = await startEmulator({ autoApprove: false });
  profile = await mkdtemp(join(tmpdir(), 'boxqc-chromium-'));
});
afterEach(async () => {
  await emu.close();
  await rm(profile, { recursive: true, force: true });
});

describe.skipIf(!available && !inCI)('a connect link in a real browser', () => {
  it('Chromium follows the link, grants at the consent page, lands on the served callback page', async () => {
    expect(available, `${CHROMIUM} is missing: CI must install chromium (apt-get install chromium)`).toBe(true);
    const { chromium } = await import('playwright-core');
    const port = await freePort();
    const { storePath } = await tempStore();
    const env = cliEnv(emu, storePath, { BOX_QC_PUBLIC_URL: `http://127.0.0.1:${port}` });
    const serve = await startServe(['--listen', `127.0.0.1:${port}`], env);
    const link = await invite(env, EMAIL);
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const cspViolations: string[] = [];
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
      });
      await page.goto(link);
      await page.getByRole('button', { name: 'Grant access' }).click();
      await page.waitForURL(new RegExp(`127\\.0\\.0\\.1:${port}/callback\\?`), { waitUntil: 'domcontentloaded' });
      expect(await page.textContent('body')).toContain(`Connected ${EMAIL} to Box as alice@example.com`);
      expect(cspViolations).toEqual([]);
      await page.goto(link);
      expect(await page.textContent('body')).toContain('ask for a new link');
    } finally {
      await context.close();
    }
    const user = (await readStore(storePath)).users[EMAIL]!;
    expect(emu.isLive(user.refresh_token)).toBe(true);
    assertTokenNeverSentToBox(emu, link);
    const r = await serve.stop();
    expect(r.code, describeResult(r)).toBe(0);
    assertCleanLog(r.stderr, [
      link.replace(/^.*\/connect\//, ''),
      user.access_token,
      user.refresh_token,
      CLIENT_SECRET,
    ]);
  });
});
