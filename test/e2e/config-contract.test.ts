/**
 * Configuration contract of the real binary (issue 15 items 10, 11, 12): run as a user runs it, through the
 * bin's shebang, so that whatever Node itself does with the command line is part of what is tested.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { BIN, cleanEnv, describeResult, startCli, type CliResult } from '../helpers/run-cli.js';
import { EMAIL, consent, userRecord, waitForUrl, writeStore } from './connect-helpers.js';

/** Executes bin/box-qc.js itself (kernel -> shebang -> node), not `node bin/box-qc.js`. */
function runBin(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const child = spawn(BIN, args, { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Exit 2, exactly one `error:` line, no stack (but under --debug), and under --json exactly one JSON document. */
function expectConfigError(r: CliResult, json: boolean, code: string, debug = false): void {
  expect(r.code, describeResult(r)).toBe(2);
  if (!debug) expect(r.stderr).not.toContain('    at ');
  const errorLines = r.stderr.split('\n').filter((l) => l.startsWith('error: ')).length;
  if (json) {
    expect(errorLines).toBeLessThanOrEqual(1);
    expect(JSON.parse(r.stdout), describeResult(r)).toMatchObject({ ok: false, error: { code } });
  } else {
    expect(errorLines, describeResult(r)).toBe(1);
  }
}

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'boxqc-cfg-'));
});

describe("--env-file is box-qc's own, whatever Node does with its own --env-file (issue 15 item 12)", () => {
  const cases: Array<[string, () => Promise<string>]> = [
    ['missing', async () => join(root, 'absent.env')],
    ['a folder', async () => root],
    [
      'a FIFO (not a regular file)',
      async () => {
        const p = join(root, 'fifo.env');
        execFileSync('mkfifo', [p]);
        return p;
      },
    ],
  ];
  it.each(cases)('an env file that is %s is exit 2, one line, one JSON document under --json', async (_what, make) => {
    const path = await make();
    for (const args of [
      ['--env-file', path, 'status'],
      ['status', '--json', '--env-file', path],
      [`--env-file=${path}`, 'status', '--json'],
    ]) {
      const r = await runBin(args, { BOX_QC_STORE: join(root, 'store', 'tokens.json') });
      expectConfigError(r, args.includes('--json'), 'E_CONFIG_ENV_FILE');
      expect(r.stderr + r.stdout).toContain('--env-file');
    }
  });

  it('loads a good file; variables already set in the environment win', async () => {
    const file = join(root, 'good.env');
    await writeFile(file, `BOX_QC_STORE=${join(root, 'from-file.json')}\nBOX_CLIENT_ID=file-id\n`, { mode: 0o600 });
    const r = await runBin(['--env-file', file, 'status', '--json'], { BOX_CLIENT_ID: 'env-id' });
    expect(r.code, describeResult(r)).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(JSON.stringify(doc)).toContain(join(root, 'from-file.json'));
    expect(doc).toMatchObject({ config: { client_id_present: true } });
  });
});

describe('secrets on the command line and in Box URLs are never echoed (issue 15 item 10)', () => {
  const SECRET = 'S3cr3t-Value-Never-Echoed';
  it.each([
    [['status', `--client-secret=${SECRET}`]],
    [['status', '--client-secret', SECRET]],
    [['--json', 'refresh', `--client-secret=${SECRET}`]],
    [[SECRET]],
  ])('a usage error does not echo the value: %j', async (args) => {
    const r = await runBin(args);
    expectConfigError(r, args.includes('--json'), 'E_USAGE');
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  it.each(['--json', '--debug', ''])(
    'status %s refuses a password in BOX_API_BASE_URL without printing it',
    async (flag) => {
      const r = await runBin(['status', ...(flag ? [flag] : [])], {
        BOX_QC_STORE: join(root, 'tokens.json'),
        BOX_API_BASE_URL: `https://alice:${SECRET}@api.box.com`,
      });
      expectConfigError(r, flag === '--json', 'E_CONFIG_URL', flag === '--debug');
      expect(r.stdout + r.stderr).toContain('BOX_API_BASE_URL');
      expect(r.stdout + r.stderr).not.toContain(SECRET);
    },
  );
});

describe('an empty store setting never means the default store (issue 15 item 11)', () => {
  let emu: Emulator;
  beforeEach(async () => {
    emu = await startEmulator({ autoApprove: true });
  });
  afterEach(async () => {
    await emu.close();
  });

  it.each([
    [['disconnect', '--all', '--store', ''], {}],
    [['disconnect', '--all', '--store='], {}],
    [['disconnect', '--all'], { BOX_QC_STORE: '' }],
    [['refresh', '--all', '--force', '--json'], { BOX_QC_STORE: ' ' }],
  ])('%j with %j is exit 2 and the default store keeps its users, live at Box', async (args, extra) => {
    const xdg = join(root, 'xdg');
    const storePath = join(xdg, 'box-qc', 'tokens.json');
    const tokens = emu.mint({ login: EMAIL });
    await writeStore(storePath, { [EMAIL]: userRecord(tokens) });
    const before = await readFile(storePath, 'utf8');
    const env: Record<string, string | undefined> = { ...emu.env(), XDG_CONFIG_HOME: xdg, ...extra };
    const r = await runBin(args, env);
    expectConfigError(r, args.includes('--json'), 'E_CONFIG_STORE');
    expect(await readFile(storePath, 'utf8')).toBe(before);
    expect(emu.isLive(tokens.refresh_token)).toBe(true);
    expect(emu.stats().total).toBe(0);
  });
});

describe('a redirect URI on port 80 (issue 15 item 14)', () => {
  let emu: Emulator;
  beforeEach(async () => {
    emu = await startEmulator({ autoApprove: false });
  });
  afterEach(async () => {
    await emu.close();
  });

  it.for([
    [['--port', '80'], 'http://127.0.0.1:53117/callback'],
    [[], 'http://127.0.0.1/callback'],
  ] as Array<[string[], string]>)(
    "connect %j with BOX_REDIRECT_URI=%s takes the browser's callback (Host without :80)",
    async ([flags, redirect], ctx) => {
      const storePath = join(root, 'box-qc', 'tokens.json');
      const started = startCli(['connect', '--email', EMAIL, '--no-browser', ...flags], {
        env: { ...emu.env(), BOX_QC_STORE: storePath, BOX_REDIRECT_URI: redirect },
        timeoutMs: 60_000,
      });
      started.child.stdin!.end();
      // A failed assertion must not leave a listener holding port 80 for the next run.
      ctx.onTestFinished(() => void started.child.kill('SIGKILL'));
      let stderr = '';
      started.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const url = await Promise.race([waitForUrl(() => stderr), started.done.then((r) => r)]);
      if (typeof url !== 'string') {
        // Port 80 taken or not bindable here (not root): nothing to prove on this machine.
        if (/E_PORT_IN_USE|port 80/.test(url.stderr)) return ctx.skip();
        throw new Error(describeResult(url));
      }
      expect(new URL(url).searchParams.get('redirect_uri')).toBe('http://127.0.0.1/callback');
      const location = await consent(url);
      expect(location.startsWith('http://127.0.0.1/callback?')).toBe(true);
      // fetch, like a browser, sends `Host: 127.0.0.1` for port 80.
      const page = await fetch(location);
      expect(page.status).toBe(200);
      const r = await started.done;
      expect(r.code, describeResult(r)).toBe(0);
      expect(JSON.parse(await readFile(storePath, 'utf8')).users[EMAIL]).toBeDefined();
    },
  );
});
