// Shared helpers for the benchmarks (issue 8): spawning the built CLI, timing, peak RSS, medians, the Box
// emulator in its own process, and seeding token stores directly in the box_tokens.json v1 format
// (src/core/store/types.ts). Scripts that print figures, never tests: nothing here asserts on time.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The binary under test; BOX_QC_BENCH_BIN points at another build (e.g. a bundle) without editing scripts. */
export const BIN = process.env.BOX_QC_BENCH_BIN ?? join(ROOT, 'bin', 'box-qc.js');
const TIME = '/usr/bin/time';
/** Peak RSS needs GNU time; without it the figures print as n/a. */
export const HAS_TIME = existsSync(TIME);

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export const fmtMs = (ms) =>
  ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
export const fmtMB = (bytes) => (Number.isFinite(bytes) ? `${(bytes / 1048576).toFixed(1)} MB` : 'n/a');
export const ratio = (a, b) => `${(a / b).toFixed(2)}x`;

export { freePort } from '../../scripts/lib/free-port.js';

export function tempDir(label) {
  const dir = mkdtempSync(join(tmpdir(), `boxqc-bench-${label}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Runs a command to completion. stdout is drained (counted, optionally kept); with `rss: true` the command
 * runs under /usr/bin/time so its peak RSS (VmHWM, "Maximum resident set size") is reported in bytes.
 */
export function run(cmd, args, { env, keepStdout = false, rss = false, cwd } = {}) {
  return new Promise((resolve, reject) => {
    let argv = [cmd, ...args];
    let rssFile;
    if (rss && HAS_TIME) {
      rssFile = join(tmpdir(), `boxqc-bench-rss-${process.pid}-${Math.random().toString(36).slice(2)}`);
      argv = [TIME, '-o', rssFile, '-f', '%M', ...argv];
    }
    const t0 = process.hrtime.bigint();
    const child = spawn(argv[0], argv.slice(1), { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let bytes = 0;
    const out = [];
    let err = '';
    child.stdout.on('data', (b) => {
      bytes += b.length;
      if (keepStdout) out.push(b);
    });
    child.stderr.on('data', (b) => {
      if (err.length < 20_000) err += b;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      let peakRss;
      if (rssFile) {
        try {
          peakRss = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop()) * 1024;
          rmSync(rssFile, { force: true });
        } catch {
          peakRss = undefined;
        }
      }
      resolve({ code, ms, bytes, stdout: keepStdout ? Buffer.concat(out).toString('utf8') : '', stderr: err, peakRss });
    });
  });
}

export function check(result, what) {
  if (result.code !== 0) throw new Error(`${what} exited ${result.code}: ${result.stderr.slice(0, 2000)}`);
  return result;
}

/** Runs box-qc (the built binary) with a clean environment. */
export function boxQc(args, env, opts = {}) {
  return run(process.execPath, [BIN, ...args], { ...opts, env });
}

/** A minimal environment: nothing from the user's own config leaks into a measurement. */
export function baseEnv(home, extra = {}) {
  return { PATH: process.env.PATH, HOME: home, NO_COLOR: '1', LANG: 'C', ...extra };
}

/**
 * The Box emulator (`box-qc emulator`) in its own process, so its CPU is not charged to the process being
 * measured. Driven through its control API (/__emulator/*).
 */
export async function startEmulatorProcess(args = []) {
  const child = spawn(process.execPath, [BIN, 'emulator', '--port', '0', ...args], {
    env: baseEnv(tmpdir()),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b) => (stderr += b));
  const url = await new Promise((resolve, reject) => {
    let buf = '';
    const onData = (b) => {
      buf += b;
      const line = buf.split('\n')[0];
      if (buf.includes('\n') && /^http:\/\//.test(line)) {
        child.stdout.off('data', onData);
        child.stdout.resume();
        resolve(line.trim());
      }
    };
    child.stdout.on('data', onData);
    child.on('exit', (code) => reject(new Error(`emulator exited ${code}: ${stderr}`)));
  });
  const control = async (method, path, body) => {
    const res = await fetch(`${url}/__emulator/${path}`, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`emulator ${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  return {
    url,
    pid: child.pid,
    env: {
      BOX_CLIENT_ID: 'emulator-client-id',
      BOX_CLIENT_SECRET: 'emulator-client-secret',
      BOX_API_BASE_URL: url,
      BOX_AUTHORIZE_URL: `${url}/api/oauth2/authorize`,
    },
    control,
    mint: (login) => control('POST', 'mint', { login }),
    stats: () => control('GET', 'stats'),
    resetStats: () => control('POST', 'stats/reset'),
    addFault: (rule) => control('POST', 'faults', rule),
    clearFaults: () => control('DELETE', 'faults'),
    isLive: async (token) => (await control('POST', 'live', { token })).live,
    chainCheck: (login) => control('GET', `chain-check?login=${encodeURIComponent(login)}`),
    close: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

const iso = (ms) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** One stored user record (types.ts StoredUser) from a minted pair, or filler tokens when `pair` is absent. */
export function userRecord(email, pair, { expiresAt = Date.now() + 3600_000, now = Date.now() } = {}) {
  const id = pair?.user?.id ?? String(40000 + ((email.length * 7919) % 50000));
  return {
    access_token: pair?.access_token ?? `filler-at-${email}-${'x'.repeat(16)}`,
    refresh_token: pair?.refresh_token ?? `filler-rt-${email}-${'y'.repeat(48)}`,
    access_token_expires_at: iso(expiresAt),
    connected_at: iso(now - 86_400_000),
    updated_at: iso(now),
    box_user_id: id,
    box_user_login: pair?.user?.login ?? email,
    box_user_name: pair?.user?.name ?? 'Bench User',
    generation: 0,
    refresh_token_issued_at: iso(now),
  };
}

/** Writes a store exactly as box-qc does (2-space JSON, final newline, 0600 in a 0700 folder). */
export function writeStore(path, users) {
  mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
  chmodSync(join(path, '..'), 0o700);
  writeFileSync(path, `${JSON.stringify({ version: 1, users }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

export function readStore(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

export const email = (i) => `user${String(i).padStart(5, '0')}@example.com`;

/** Mints real pairs for `n` users, a few requests at a time over the control API. */
export async function mintUsers(emu, n, parallel = 8) {
  const users = {};
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const e = email(next++);
      users[e] = userRecord(e, await emu.mint(e));
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return users;
}

export function machine() {
  const c = cpus();
  let kernel = '';
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {}
  return `${c.length} x ${c[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, node ${process.version}, Linux ${kernel}, ${new Date().toISOString()}`;
}

/** Each script prints human lines, then one `RESULT {json}` line that run-all.js collects. */
export function emitResult(obj) {
  console.log(`RESULT ${JSON.stringify(obj)}`);
}
