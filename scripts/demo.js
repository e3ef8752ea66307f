#!/usr/bin/env node
/**
 * `npm run demo`: box-qc's main job end to end.
 *
 * With no Box app configured (the usual first run) it needs no Box account: it starts the Box emulator in
 * this process (auto-approve, signed in as demo@example.com), then runs the real built binary as a user would:
 *   connect --no-browser -> status -> ls 0 -> refresh --force -> token -> disconnect
 * playing the browser for `connect` (fetch the authorize URL it prints, follow Box's redirect to its
 * callback). Prints what a user would see; exits 0 only if every step did. Never prints a token.
 * With BOX_CLIENT_ID and BOX_CLIENT_SECRET set, it runs cron's job against that app instead (runConfigured).
 *
 * Needs the build (`npm run build`, done by `npm install`/`npm test`). Uses a temporary store and HOME.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// A free loopback port for connect's callback listener (Box's loopback any-port rule allows it).
import { freePort } from './lib/free-port.js';

// BOX_QC_DEMO_PACKAGE: an installed box-qc package folder to run instead of this checkout (scripts/pack-smoke.mjs
// proves the published tarball this way: its `files`, its bundle and its dependencies).
const ROOT = process.env.BOX_QC_DEMO_PACKAGE || fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'box-qc.js');
const EMAIL = 'demo@example.com';
const STEP_TIMEOUT_MS = 60_000;

const say = (line = '') => process.stdout.write(`${line}\n`);
const indent = (text) =>
  text
    .replace(/\s+$/, '')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => `    ${l}`)
    .join('\n');

/** Runs `box-qc ...args`; `onStderr` may act on the output while it runs (connect's URL). */
function boxQc(args, env, onStderr) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), STEP_TIMEOUT_MS);
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => {
      stderr += d;
      onStderr?.(stderr, child);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    if (!onStderr) child.stdin.end();
  });
}

/** Plays the browser: GET the authorize URL (auto-approved: 302 to the callback), then GET the callback. */
async function playBrowser(authorizeUrl) {
  const grant = await fetch(authorizeUrl, { redirect: 'manual' });
  const callback = grant.headers.get('location');
  if (grant.status !== 302 || !callback) throw new Error(`authorize answered ${grant.status} without a redirect`);
  const page = await fetch(callback);
  await page.text();
  return page.status;
}

function mask(token) {
  return `******** (${token.length} characters, masked)`;
}

/**
 * With a real Box app configured (BOX_CLIENT_ID and BOX_CLIENT_SECRET set), the main job is cron's: keep
 * every connection alive (`refresh --all`), then show where things stand (`status`). Set BOX_QC_DEMO=emulator
 * to run the emulator demo anyway.
 */
async function runConfigured() {
  say('BOX_CLIENT_ID and BOX_CLIENT_SECRET are set: running the main job against your Box app.');
  say('(BOX_QC_DEMO=emulator npm run demo runs the self-contained emulator demo instead.)');
  let worst = 0;
  for (const args of [
    ['refresh', '--all'],
    ['status', '--long'],
  ]) {
    say();
    say(`$ box-qc ${args.join(' ')}`);
    const code = await new Promise((resolve) => {
      const child = spawn(process.execPath, [BIN, ...args], { stdio: 'inherit' });
      child.on('close', (c) => resolve(c ?? 1));
      child.on('error', () => resolve(1));
    });
    if (code !== 0 && worst === 0) worst = code;
  }
  return worst;
}

async function main() {
  if (!existsSync(join(ROOT, 'dist', 'main.js')) || !existsSync(join(ROOT, 'dist', 'emulator', 'index.js'))) {
    say('box-qc is not built yet: run `npm run build` first.');
    return 1;
  }
  if (process.env.BOX_CLIENT_ID && process.env.BOX_CLIENT_SECRET && process.env.BOX_QC_DEMO !== 'emulator') {
    return runConfigured();
  }
  const { startEmulator } = await import(join(ROOT, 'dist', 'emulator', 'index.js'));
  const emu = await startEmulator({
    autoApprove: true,
    approveAs: EMAIL,
    users: [{ id: '33333', login: EMAIL, name: 'Demo User' }],
    rootItems: 12,
  });
  const home = await mkdtemp(join(tmpdir(), 'box-qc-demo-'));
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    LANG: process.env.LANG ?? 'C.UTF-8',
    NO_COLOR: '1',
    ...emu.env({
      BOX_QC_STORE: join(home, 'tokens.json'),
      BOX_REDIRECT_URI: `http://127.0.0.1:${await freePort()}/callback`,
    }),
  };
  say(`Box emulator on ${emu.url} (auto-approve, signed in as ${EMAIL}); temporary store ${env.BOX_QC_STORE}`);
  const results = [];
  let token = '';

  const step = async (args, opts = {}) => {
    say();
    say(`$ box-qc ${args.join(' ')}`);
    const r = await boxQc(args, env, opts.onStderr).catch((err) => ({ code: null, stdout: '', stderr: String(err) }));
    if (opts.hideStdout) {
      if (r.stdout.trim() !== '') say(`    ${opts.hideStdout(r.stdout.trim())}`);
    } else if (r.stdout.trim() !== '') say(indent(r.stdout));
    if (r.stderr.trim() !== '') say(indent(r.stderr));
    const verdict = r.code === 0 && (opts.check ? opts.check(r) : true);
    results.push({ name: args[0], ok: verdict, code: r.code });
    say(verdict ? `  ok (exit ${r.code})` : `  FAILED (exit ${r.code})`);
    return r;
  };

  try {
    let browser;
    await step(['connect', '--email', EMAIL, '--no-browser', '--timeout', '30'], {
      onStderr(stderr) {
        if (browser) return;
        const line = stderr.split('\n').find((l) => l.trim().startsWith(emu.authorizeUrl));
        if (line) browser = playBrowser(line.trim());
      },
      check: () => browser !== undefined,
    });
    if (browser) await browser.catch((err) => say(`  browser step failed: ${err.message}`));
    await step(['status', '--long']);
    await step(['ls', '0', '--email', EMAIL]);
    await step(['refresh', '--force', '--email', EMAIL]);
    await step(['token', '--email', EMAIL], {
      hideStdout: (t) => {
        token = t;
        return mask(t);
      },
      check: (r) => emu.isLive(r.stdout.trim()),
    });
    await step(['disconnect', '--email', EMAIL], { check: () => token !== '' && !emu.isLive(token) });
  } finally {
    await emu.close();
    await rm(home, { recursive: true, force: true });
  }

  const s = emu.stats();
  say();
  say(
    `Box saw ${s.total} requests (${Object.entries(s.byGrantType)
      .map(([g, n]) => `${n} ${g}`)
      .join(', ')}).`,
  );
  const failed = results.filter((r) => !r.ok);
  if (failed.length > 0 || results.length < 6) {
    say(`Demo FAILED at: ${failed.map((r) => r.name).join(', ') || 'an early step'}`);
    return 1;
  }
  say('Demo passed: connect, status, ls, refresh, token and disconnect all worked against the emulator.');
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    say(`demo crashed: ${err?.message ?? err}`);
    process.exitCode = 1;
  },
);
