/**
 * connect in process (run(argv, deps) against the emulator): when the browser is opened, what happens when
 * opening fails, Ctrl-C, and flag validation. The spawned-binary flows live in test/e2e/connect*.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { run } from '../../../src/cli.js';
import { startEmulator, type Emulator } from '../../../src/emulator/index.js';
import { fakeDeps } from '../../helpers/fake-deps.js';
import { consent, tempStore, readStore, EMAIL } from '../../e2e/connect-helpers.js';

let emu: Emulator;
beforeEach(async () => {
  emu = await startEmulator({ autoApprove: false });
});
afterEach(async () => {
  await emu.close();
});

async function setup(opts: { tty: boolean; display: boolean; openBrowser?: (url: string) => Promise<void> }) {
  const { storePath } = await tempStore();
  const stdin = Object.assign(new PassThrough(), { isTTY: opts.tty });
  const f = fakeDeps({
    env: { ...emu.env(), BOX_QC_STORE: storePath, BOX_REDIRECT_URI: 'http://127.0.0.1:53117/callback', CI: '1' },
    stdin,
    stderrTTY: opts.tty,
    openBrowser: opts.openBrowser,
  });
  f.deps.hasDisplay = () => opts.display;
  return { ...f, storePath };
}

/** The browser: approve on the consent page and follow the redirect to the callback. */
async function browse(url: string): Promise<void> {
  const res = await fetch(await consent(url));
  await res.text();
}

describe('connect (in process)', () => {
  it('opens the browser on a terminal with a display, and still prints the URL', async () => {
    const opened: string[] = [];
    const f = await setup({
      tty: true,
      display: true,
      openBrowser: async (url) => {
        opened.push(url);
        void browse(url);
      },
    });
    const code = await run(['connect', '--email', EMAIL, '--port', '0'], f.deps);
    expect(code, f.stderr.text).toBe(0);
    expect(opened).toHaveLength(1);
    expect(f.stderr.text.split('\n')).toContain(opened[0]);
    expect(Object.keys((await readStore(f.storePath)).users)).toEqual([EMAIL]);
  });

  it('does not open a browser without a display, or when stdin is not a terminal', async () => {
    for (const env of [
      { tty: true, display: false },
      { tty: false, display: true },
    ]) {
      let opened = 0;
      const f = await setup({
        ...env,
        openBrowser: async () => {
          opened += 1;
        },
      });
      const done = run(['connect', '--email', EMAIL, '--port', '0'], f.deps);
      const url = await waitLine(() => f.stderr.text);
      await browse(url);
      expect(await done, f.stderr.text).toBe(0);
      expect(opened).toBe(0);
    }
  });

  it('says so when the browser cannot be opened, and keeps waiting', async () => {
    const f = await setup({
      tty: true,
      display: true,
      openBrowser: async () => {
        throw new Error('xdg-open: not found');
      },
    });
    const done = run(['connect', '--email', EMAIL, '--port', '0'], f.deps);
    const url = await waitLine(() => f.stderr.text);
    await browse(url);
    expect(await done, f.stderr.text).toBe(0);
    expect(f.stderr.text).toContain('could not open a browser: open the URL above yourself');
  });

  it('exits 130 on Ctrl-C and closes the listener', async () => {
    const f = await setup({ tty: false, display: false });
    const done = run(['connect', '--email', EMAIL, '--port', '0'], f.deps);
    const url = await waitLine(() => f.stderr.text);
    f.interrupts.controller.abort(new Error('received SIGINT'));
    expect(await done).toBe(130);
    const callback = new URL(new URL(url).searchParams.get('redirect_uri')!);
    await expect(fetch(callback)).rejects.toThrow();
  });

  it('validates flags before any side effect', async () => {
    const f = await setup({ tty: false, display: false });
    expect(await run(['connect', '--port', '70000', '--email', EMAIL], f.deps)).toBe(2);
    expect(await run(['connect', '--timeout', '0', '--email', EMAIL], f.deps)).toBe(2);
    expect(await run(['connect', '--timeout', '601', '--email', EMAIL], f.deps)).toBe(2);
    expect(await run(['connect'], f.deps)).toBe(2);
    expect(f.stderr.text).toContain('connect needs --email');
    const noSecret = await setup({ tty: false, display: false });
    delete noSecret.env.BOX_CLIENT_SECRET;
    expect(await run(['connect', '--email', EMAIL], noSecret.deps)).toBe(2);
    expect(noSecret.stderr.text).toContain('BOX_CLIENT_SECRET is not set');
  });
});

async function waitLine(text: () => string): Promise<string> {
  for (let i = 0; i < 400; i++) {
    const m = /^(http:\/\/127\.0\.0\.1:\d+\/api\/oauth2\/authorize\?\S+)$/m.exec(text());
    if (m) return m[1]!;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no URL:\n${text()}`);
}
