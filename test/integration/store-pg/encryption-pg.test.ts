/**
 * Encryption at rest on PostgreSQL (issue 19), the built binary against the emulator: after refreshes with a
 * key, a `pg_dump` of the database holds none of the tokens the emulator issued; `store migrate` file ->
 * PostgreSQL -> file carries the ciphertext and the store identity as they are, so the values still open.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeResult } from '../../helpers/run-cli.js';
import { findPgBinaries, usePgCluster } from '../../helpers/pg-cluster.js';
import { requireBuild } from '../../helpers/store-procs.js';
import { startLab, type Lab } from '../../e2e/refresh-fixtures.js';

const exec = promisify(execFile);
beforeAll(requireBuild);
const { skip, cluster } = usePgCluster();
let lab: Lab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

const A = 'alice@example.com';
const B = 'bob@example.com';

async function keyEnv(): Promise<Record<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), 'boxqc-keys-'));
  const path = join(dir, 'keys');
  await writeFile(path, `k1:${Buffer.alloc(32, 5).toString('base64')}\n`);
  await chmod(path, 0o600);
  return { BOX_QC_KEY_FILE: path };
}

async function pgDump(db: string): Promise<string> {
  const bin = findPgBinaries();
  if (typeof bin === 'string') throw new Error(bin);
  const argv = [join(bin.bindir, 'pg_dump'), '-h', '127.0.0.1', '-p', String(cluster().port), '-U', 'boxqc', db];
  const full = [...bin.asUser, ...argv];
  const { stdout } = await exec(full[0]!, full.slice(1), { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

describe.skipIf(skip)('encryption at rest on PostgreSQL', () => {
  it('refresh with a key: pg_dump holds none of the issued tokens, and the stored pairs are live', async () => {
    const l = (lab = await startLab());
    const db = await cluster().createDatabase();
    await l.mintAndSeed([A, B], { expired: true });
    const key = await keyEnv();
    const m = await l.cli(['store', 'migrate', '--from', l.storePath, '--to', db.a], key);
    expect(m.code, describeResult(m)).toBe(0);
    // Plaintext values from the seed: encrypted in place, then refreshed twice (new pairs sealed on save).
    const e = await l.cli(['store', 'encrypt'], { ...key, BOX_QC_STORE: db.a });
    expect(e.code, describeResult(e)).toBe(0);
    for (let i = 0; i < 2; i++) {
      const r = await l.cli(['refresh', '--all', '--force'], { ...key, BOX_QC_STORE: db.a });
      expect(r.code, describeResult(r)).toBe(0);
    }
    const dump = await pgDump(db.name);
    expect(dump).toContain('enc:v1:k1:');
    expect(l.emu.issuedTokens().filter((t) => dump.includes(t))).toEqual([]);
    for (const email of [A, B]) {
      const t = await l.cli(['token', '--email', email], { ...key, BOX_QC_STORE: db.a });
      expect(t.stdout.trim(), describeResult(t)).toBe(l.emu.latestTokens(email)!.access_token);
    }
    const s = await l.cli(['status', '--json'], { BOX_QC_STORE: db.a });
    expect(JSON.parse(s.stdout).users.map((u: { encryption?: unknown }) => u.encryption)).toEqual([
      { key_id: 'k1' },
      { key_id: 'k1' },
    ]);
  });

  it('migrate file -> PostgreSQL -> file keeps the ciphertext and its store identity: the values still open', async () => {
    const l = (lab = await startLab());
    const db = await cluster().createDatabase();
    await l.mintAndSeed([A, B], { expired: true });
    const key = await keyEnv();
    expect((await l.cli(['store', 'encrypt'], key)).code).toBe(0);
    const original = JSON.parse(await readFile(l.storePath, 'utf8'));
    const there = await l.cli(['store', 'migrate', '--from', l.storePath, '--to', db.a]);
    expect(there.code, describeResult(there)).toBe(0);
    const back = join(await mkdtemp(join(tmpdir(), 'boxqc-back-')), 'box-qc', 'tokens.json');
    const home = await l.cli(['store', 'migrate', '--from', db.a, '--to', back]);
    expect(home.code, describeResult(home)).toBe(0);
    const copy = JSON.parse(await readFile(back, 'utf8'));
    expect(copy.store_id).toBe(original.store_id);
    expect(copy.users[A].refresh_token).toBe(original.users[A].refresh_token);
    // Both copies open and refresh: the PostgreSQL one and the file that came back.
    const pg = await l.cli(['refresh', '--email', A], { ...key, BOX_QC_STORE: db.a });
    expect(pg.code, describeResult(pg)).toBe(0);
    const file = await l.cli(['token', '--email', B], { ...key, BOX_QC_STORE: back });
    expect(file.code, describeResult(file)).toBe(0);
    expect(l.emu.isLive(file.stdout.trim())).toBe(true);
  });
});
