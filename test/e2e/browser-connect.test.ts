/**
 * A real browser (issue 5 "Done when"): headless Chromium driven by playwright-core opens the authorize URL,
 * clicks "Grant access" on the emulator's consent page, lands on box-qc's callback page, and connect exits 0.
 * In CI (`CI` set) a missing Chromium is a failure, not a skip: .ci/run installs it with apt-get.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { startCli, describeResult } from '../helpers/run-cli.js';
import {
  CLIENT_SECRET,
  EMAIL,
  assertNoSecrets,
  cliEnv,
  readStore,
  stateOf,
  tempStore,
  waitForUrl,
} from './connect-helpers.js';

const CHROMIUM = process.env.BOX_QC_CHROMIUM ?? '/usr/bin/chromium';
const inCI = Boolean(process.env.CI) && process.env.CI !== 'false' && process.env.CI !== '0';
const available = existsSync(CHROMIUM);
if (!available && !inCI)
  console.log(`skipping the real-browser test: ${CHROMIUM} is not installed (it is required when CI is set)`);

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

describe.skipIf(!available && !inCI)('connect with a real browser', () => {
  it('headless Chromium grants access, lands on the callback page, and connect exits 0', async () => {
    expect(available, `${CHROMIUM} is missing: CI must install chromium (apt-get install chromium)`).toBe(true);
    const { chromium } = await import('playwright-core');
    const store = await tempStore();
    const c = startCli(['connect', '--email', EMAIL, '--no-browser', '--port', '0'], {
      env: cliEnv(emu, store.storePath),
      timeoutMs: 90_000,
    });
    let stderr = '';
    c.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const url = await waitForUrl(() => stderr);

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
      await page.goto(url);
      await page.getByRole('button', { name: 'Grant access' }).click();
      await page.waitForURL(/127\.0\.0\.1:\d+\/callback\?/, { waitUntil: 'domcontentloaded' });
      expect(await page.textContent('body')).toContain('You can close this tab');
      const r = await c.done;
      expect(r.code, describeResult(r)).toBe(0);
      expect(r.stderr).toContain(`Connected ${EMAIL} to Box as alice@example.com (Alice Example)`);
      // The page's only script is allowed by its hash; anything else would show up as a CSP report.
      expect(cspViolations).toEqual([]);
      const user = (await readStore(store.storePath)).users[EMAIL]!;
      expect(emu.isLive(user.refresh_token)).toBe(true);
      assertNoSecrets(r, [user.access_token, user.refresh_token, CLIENT_SECRET], stateOf(url));
    } finally {
      await context.close();
    }
  });
});
