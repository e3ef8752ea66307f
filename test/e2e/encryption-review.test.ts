/**
 * Issue 19 under its review's findings: a process without the key, on a store where only some users are
 * encrypted (connect/refresh seal only what they write), must refuse BEFORE spending a refresh token (finding 1:
 * Box rotated, the save was refused, the user was lost); key text put into BOX_QC_KEY_FILE by mistake is never
 * echoed (finding 2).
 */
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeResult } from '../helpers/run-cli.js';
import { refreshCount, startLab, type Lab } from './refresh-fixtures.js';

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

const A = 'alice@example.com';
const B = 'bob@example.com';
const K1 = `k1:${Buffer.alloc(32, 1).toString('base64')}`;

async function keyFile(): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'boxqc-keys-')), 'keys');
  await writeFile(path, `${K1}\n`);
  await chmod(path, 0o600);
  return path;
}

describe('encryption: the review findings', () => {
  it('without the key, a plaintext user of a partly encrypted store is refused before the POST (exit 2, nothing lost)', async () => {
    const l = (lab = await startLab());
    await l.mintAndSeed([A, B], { expired: true });
    const withKey = { BOX_QC_KEY_FILE: await keyFile() };
    const sealB = await l.cli(['refresh', '--email', B, '--force'], withKey);
    expect(sealB.code, describeResult(sealB)).toBe(0);
    const before = await readFile(l.storePath, 'utf8');
    const plainA = (JSON.parse(before) as { users: Record<string, { refresh_token: string }> }).users[A]!.refresh_token;
    expect(plainA.startsWith('enc:')).toBe(false);

    const posts = refreshCount(l);
    const keyless = await l.cli(['refresh', '--email', A, '--force']);
    expect(keyless.code, describeResult(keyless)).toBe(2);
    expect(keyless.stderr).toMatch(/k1/);
    expect(refreshCount(l)).toBe(posts);
    expect(await readFile(l.storePath, 'utf8')).toBe(before);
    // alice's stored refresh token is still the live one: with the key she refreshes normally.
    const again = await l.cli(['refresh', '--email', A, '--force'], withKey);
    expect(again.code, describeResult(again)).toBe(0);

    const all = await l.cli(['refresh', '--all', '--force']);
    expect(all.code, describeResult(all)).toBe(2);
    const after = await l.cli(['refresh', '--all', '--force'], withKey);
    expect(after.code, describeResult(after)).toBe(0);
  });

  it('store decrypt and rekey with one tampered value: exit 2 and the file byte-identical (nobody converted)', async () => {
    const l = (lab = await startLab());
    await l.mintAndSeed([A, B]);
    const withKey = { BOX_QC_KEY_FILE: await keyFile() };
    const enc = await l.cli(['store', 'encrypt'], withKey);
    expect(enc.code, describeResult(enc)).toBe(0);
    const doc = JSON.parse(await readFile(l.storePath, 'utf8')) as { users: Record<string, { refresh_token: string }> };
    const v = doc.users[B]!.refresh_token;
    const i = v.length - 5;
    doc.users[B]!.refresh_token = v.slice(0, i) + (v[i] === 'A' ? 'B' : 'A') + v.slice(i + 1);
    await writeFile(l.storePath, JSON.stringify(doc, null, 2), { mode: 0o600 });
    const before = await readFile(l.storePath, 'utf8');
    for (const mode of ['decrypt', 'rekey']) {
      const r = await l.cli(['store', mode], withKey);
      expect(r.code, `${mode}\n${describeResult(r)}`).toBe(2);
      expect(r.stderr).toContain(B);
      expect(await readFile(l.storePath, 'utf8')).toBe(before);
    }
  });

  it('key text in BOX_QC_KEY_FILE (the variables swapped) is refused without echoing it', async () => {
    const l = (lab = await startLab());
    await l.mintAndSeed([A]);
    const r = await l.cli(['status', '--json'], { BOX_QC_KEY_FILE: K1 });
    expect(r.code, describeResult(r)).toBe(2);
    const secret = K1.split(':')[1]!;
    expect(r.stdout + r.stderr).not.toContain(secret);
    expect(r.stdout + r.stderr).toContain('did you mean BOX_QC_KEY');
  });
});
