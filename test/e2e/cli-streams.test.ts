/**
 * The built binary's start-up and output streams (issue 2 "start-up speed", io/fd-stream.ts): `status --json`
 * on an empty store loads none of the modules the bundle keeps lazy, and stdout written without Node's stream
 * still delivers every byte to a file, a pipe, a closed pipe and a non-blocking pipe.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, cleanEnv, describeResult, type CliResult } from '../helpers/run-cli.js';
import { assertDistFresh } from '../helpers/dist-fresh.js';
import { moduleListPreload } from '../helpers/module-list.js';
import { userRecord, writeStore } from './connect-helpers.js';

let dir: string;
let env: Record<string, string>;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'boxqc-streams-'));
  env = cleanEnv({ HOME: dir, BOX_QC_STORE: join(dir, 'cfg', 'tokens.json') });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Runs node with args; stdout as given ('pipe' is collected), stderr collected. */
function node(args: string[], stdout: 'pipe' | 'ignore' | number, opts: { closeStdout?: boolean } = {}) {
  assertDistFresh();
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', stdout, 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  if (child.stdout) {
    if (opts.closeStdout) child.stdout.destroy();
    else child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  }
  return new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err }));
  });
}

describe.skipIf(process.platform === 'win32')('start-up and output streams of the built binary', () => {
  it('status --json on an empty store loads no stream, network, crypto, child-process or fs/promises module', async () => {
    const { preload, loaded: modules } = moduleListPreload(dir);
    const r = await node(['-r', preload, BIN, 'status', '--json'], 'pipe');
    expect(r.code, describeResult(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, users: [] });
    const loaded = modules();
    for (const heavy of [
      'net',
      'stream',
      'tty',
      'crypto',
      'child_process',
      'http',
      'https',
      'readline',
      'internal/fs/promises',
    ]) {
      expect(loaded, `NativeModule ${heavy} was loaded: ${loaded.join(', ')}`).not.toContain(`NativeModule ${heavy}`);
    }
  });

  it('the V8 code cache the build wrote is accepted by this Node (else every run parses and compiles the bundle)', () => {
    const bundle = join(BIN, '..', '..', 'dist', 'cli', 'main.cjs');
    // The same wrapper as bin/box-qc.js: V8 accepts a cache only for the source it was made from.
    const wrapper = `(function (exports, require, module, __filename, __dirname, __boxQcImportHook) {${readFileSync(bundle).toString('latin1')}\n})`;
    // As bin/box-qc.js wrote it: the wrapper's parameters and the bundle, V8's data twice, their lengths, "bqc3".
    const raw = readFileSync(`${bundle}.cache`);
    expect(raw.subarray(raw.length - 4).toString('latin1')).toBe('bqc3');
    const [keyLength, dataLength] = [raw.readUInt32LE(raw.length - 12), raw.readUInt32LE(raw.length - 8)];
    const params = 'exports, require, module, __filename, __dirname, __boxQcImportHook\n';
    expect(raw.subarray(0, keyLength).equals(Buffer.concat([Buffer.from(params), readFileSync(bundle)]))).toBe(true);
    const data = raw.subarray(keyLength, keyLength + dataLength);
    const script = new Script(wrapper, { filename: bundle, cachedData: data });
    expect(script.cachedDataRejected).toBe(false);
    // And bin/box-qc.js takes it (its hash matches this bundle).
    const r = spawnSync(process.execPath, [BIN, '--version'], {
      env: { ...process.env, BOX_QC_DEBUG_CODE_CACHE: '1' },
    });
    expect(r.stderr.toString()).toBe('code cache main.cjs.cache: used\n');
  });

  it('writes complete output to a file and to /dev/null', async () => {
    const path = join(dir, 'out.json');
    const fd = openSync(path, 'w');
    try {
      const r = await node([BIN, 'status', '--json'], fd);
      expect(r.code, describeResult(r)).toBe(0);
    } finally {
      closeSync(fd);
    }
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ ok: true });
    const n = await node([BIN, 'status', '--json'], 'ignore');
    expect(n.code, describeResult(n)).toBe(0);
    expect(n.stderr).toBe('');
  });

  it('a reader that went away (EPIPE, `box-qc ... | head`) ends the run quietly with its exit code', async () => {
    const r = await node([BIN, 'status', '--json'], 'pipe', { closeStdout: true });
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('a non-blocking stdout (EAGAIN on a full pipe) still gets every byte, in order', async () => {
    // ~1 MB of JSON: more than the pipe and the reader's buffers hold while the reader waits.
    const now = Date.now();
    const users: Record<string, Record<string, unknown>> = {};
    for (let i = 0; i < 2000; i++) {
      users[`user${i}@example.com`] = userRecord(
        { access_token: `A${String(i).padStart(31, '0')}`, refresh_token: `R${String(i).padStart(31, '0')}` },
        now,
        { box_user_login: `user${i}@example.com` },
      );
    }
    await writeStore(env.BOX_QC_STORE!, users);
    // The child's stdout is a FIFO. libuv makes a child's stdio blocking when it spawns it; then we wrap our own
    // copy of the write end in a net.Socket, which makes the shared open file description O_NONBLOCK, as any
    // Node process sharing the pipe would. Nobody reads for a second, so the 64 KB pipe fills and write(2)
    // fails with EAGAIN part-way through the output.
    const fifo = join(dir, 'out.fifo');
    execFileSync('mkfifo', [fifo]);
    const readFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writeFd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    const run = node([BIN, 'status', '--json'], writeFd);
    new Socket({ fd: writeFd, readable: false, writable: true }).destroy();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const reader = new Socket({ fd: readFd, readable: true, writable: false });
    let stdout = '';
    reader.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const [r] = await Promise.all([run, new Promise((resolve) => reader.on('end', resolve))]);
    expect(r.code, describeResult({ ...r, stdout: stdout.slice(0, 200) })).toBe(0);
    const doc = JSON.parse(stdout) as { users: Array<{ email: string }> };
    expect(doc.users).toHaveLength(2000);
  });
});
