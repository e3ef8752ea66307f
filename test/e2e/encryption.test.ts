/**
 * Tokens encrypted at rest (issue 19), end to end with the built binary against the emulator: after connect
 * and refresh with a key the file holds none of the tokens the emulator issued; a wrong key, a tampered value
 * or a value swapped between users or fields is refused (exit 2) with the file byte-identical and nothing
 * sent to Box; a 0644 key file is refused; without the key an encrypted store is refused naming the key id and
 * the user while `status` still works; encrypt -> decrypt gives back the seed's document; rekey k1 -> k2 leaves
 * every value under k2 and k1 removable.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeResult } from '../helpers/run-cli.js';
import { writeStoreDocument } from '../helpers/seed-store.js';
import { consent, waitForUrl } from './connect-helpers.js';
import { refreshCount, startLab, type Lab } from './refresh-fixtures.js';

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

const A = 'alice@example.com';
const B = 'bob@example.com';

async function keyFile(lines: string[], mode = 0o600): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'boxqc-keys-'));
  const path = join(dir, 'keys');
  await writeFile(path, `${lines.join('\n')}\n`);
  await chmod(path, mode);
  return path;
}

function keyLine(id: string, fill: number): string {
  return `${id}:${Buffer.alloc(32, fill).toString('base64')}`;
}

const K1 = keyLine('k1', 1);
const K2 = keyLine('k2', 2);

async function fileHash(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/** Every token the emulator ever issued that appears in `text`. */
function leaked(l: Lab, text: string): string[] {
  return l.emu.issuedTokens().filter((t) => text.includes(t));
}

/** Two users, expired access tokens, encrypted under `keys` by `store encrypt`. */
async function encryptedLab(keys: string[]): Promise<{ l: Lab; env: Record<string, string> }> {
  const l = (lab = await startLab());
  await l.mintAndSeed([A, B], { expired: true });
  const env = { BOX_QC_KEY_FILE: await keyFile(keys) };
  const r = await l.cli(['store', 'encrypt'], env);
  expect(r.code, describeResult(r)).toBe(0);
  return { l, env };
}

describe('encryption at rest', () => {
  it('connect and refresh with a key leave none of the issued tokens in the file', async () => {
    const l = (lab = await startLab({ autoApprove: false }));
    const env = { BOX_QC_KEY_FILE: await keyFile([K1]), BOX_REDIRECT_URI: 'http://127.0.0.1:53117/callback' };
    const c = l.start(['connect', '--email', A, '--port', '0', '--no-browser'], env);
    let stderr = '';
    c.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const location = await consent(await waitForUrl(() => stderr));
    expect((await fetch(location)).status).toBe(200);
    const connected = await c.done;
    expect(connected.code, describeResult(connected)).toBe(0);
    for (let i = 0; i < 3; i++) {
      const r = await l.cli(['refresh', '--email', A, '--force'], env);
      expect(r.code, describeResult(r)).toBe(0);
    }
    const text = await readFile(l.storePath, 'utf8');
    expect(l.emu.issuedTokens().length).toBeGreaterThanOrEqual(8);
    expect(leaked(l, text)).toEqual([]);
    const doc = JSON.parse(text);
    expect(doc.users[A].refresh_token).toMatch(/^enc:v1:k1:[A-Za-z0-9_-]+$/);
    expect(doc.users[A].access_token).toMatch(/^enc:v1:k1:[A-Za-z0-9_-]+$/);
    expect(doc.store_id).toEqual(expect.any(String));
    // The stored pair is the live one: `token` opens it and hands out the latest access token.
    const t = await l.cli(['token', '--email', A], env);
    expect(t.code, describeResult(t)).toBe(0);
    expect(t.stdout.trim()).toBe(l.emu.latestTokens(A)!.access_token);
    expect(l.emu.isLive(t.stdout.trim())).toBe(true);
  });

  it('without the key: token/refresh exit 2 naming the key id and user, nothing written or sent; status works', async () => {
    const { l } = await encryptedLab([K1]);
    const before = await fileHash(l.storePath);
    const requests = l.emu.requests.length;
    for (const args of [
      ['token', '--email', A],
      ['refresh', '--all'],
      ['disconnect', '--email', A],
    ]) {
      const r = await l.cli(args);
      expect(r.code, describeResult(r)).toBe(2);
      expect(r.stderr).toMatch(/alice@example\.com: .*key k1/);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
    expect(await fileHash(l.storePath)).toBe(before);
    expect(l.emu.requests.length).toBe(requests);
    const s = await l.cli(['status']);
    expect(s.code, describeResult(s)).toBe(0);
    expect(s.stdout + s.stderr).toMatch(/encrypted \(key k1\)/);
    const j = await l.cli(['status', '--json']);
    expect(JSON.parse(j.stdout).users[0].encryption).toEqual({ key_id: 'k1' });
  });

  it('connect without the key into an encrypted store is refused before the browser step', async () => {
    const { l } = await encryptedLab([K1]);
    const before = await fileHash(l.storePath);
    const r = await l.cli(['connect', '--email', 'carol@example.com', '--no-browser', '--port', '0']);
    expect(r.code, describeResult(r)).toBe(2);
    expect(r.stderr).toMatch(/key k1/);
    expect(await fileHash(l.storePath)).toBe(before);
    expect(l.emu.requests.length).toBe(0);
  });

  it('a wrong key under the same id, a tampered value, values swapped between users or fields: exit 2, byte-identical, nothing sent', async () => {
    const { l, env } = await encryptedLab([K1]);
    const good = JSON.parse(await readFile(l.storePath, 'utf8'));
    const cases: Array<[string, (d: typeof good) => void, Record<string, string>]> = [
      ['wrong key', () => {}, { BOX_QC_KEY_FILE: await keyFile([keyLine('k1', 9)]) }],
      ['unknown key id', () => {}, { BOX_QC_KEY_FILE: await keyFile([K2]) }],
      [
        'tampered',
        (d) => {
          const v: string = d.users[A].refresh_token;
          d.users[A].refresh_token = `${v.slice(0, -4)}${v.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
        },
        env,
      ],
      [
        'swapped users',
        (d) => {
          const t = d.users[A].refresh_token;
          d.users[A].refresh_token = d.users[B].refresh_token;
          d.users[B].refresh_token = t;
        },
        env,
      ],
      [
        'swapped fields',
        (d) => {
          const t = d.users[A].refresh_token;
          d.users[A].refresh_token = d.users[A].access_token;
          d.users[A].access_token = t;
        },
        env,
      ],
    ];
    for (const [name, edit, keyEnv] of cases) {
      const doc = structuredClone(good);
      edit(doc);
      await writeStoreDocument(l.storePath, doc);
      const before = await fileHash(l.storePath);
      const requests = l.emu.requests.length;
      const r = await l.cli(['refresh', '--email', A], keyEnv);
      expect(r.code, `${name}\n${describeResult(r)}`).toBe(2);
      expect(r.stderr, name).toMatch(/alice@example\.com: .*key k1/);
      expect(await fileHash(l.storePath), name).toBe(before);
      expect(l.emu.requests.length, name).toBe(requests);
    }
  });

  it('a key file readable by others (0644) is refused with exit 2, before the store is read', async () => {
    const { l } = await encryptedLab([K1]);
    const r = await l.cli(['status'], { BOX_QC_KEY_FILE: await keyFile([K1], 0o644) });
    expect(r.code, describeResult(r)).toBe(2);
    expect(r.stderr).toMatch(/BOX_QC_KEY_FILE .* is readable by others \(mode 0644\)/);
    expect(r.stderr).not.toContain(K1.slice(3));
  });

  it('a malformed key line is refused naming its line number, never echoing it; keygen prints a usable line', async () => {
    lab = await startLab();
    const bad = `k1:${Buffer.alloc(31, 7).toString('base64')}`;
    const r = await lab.cli(['status'], { BOX_QC_KEY: `# mine\n${K1}\n${bad}` });
    expect(r.code, describeResult(r)).toBe(2);
    expect(r.stderr).toMatch(/BOX_QC_KEY line 3/);
    expect(r.stderr).not.toContain(bad.slice(3, 20));
    const both = await lab.cli(['status'], { BOX_QC_KEY: K1, BOX_QC_KEY_FILE: await keyFile([K1]) });
    expect(both.code).toBe(2);
    const g = await lab.cli(['store', 'keygen', '--id', 'k7']);
    expect(g.code, describeResult(g)).toBe(0);
    expect(g.stdout).toMatch(/^k7:[A-Za-z0-9+/]{43}=\n$/);
    const d = await lab.cli(['store', 'keygen']);
    expect(d.stdout).toMatch(/^k\d{8}-[0-9a-f]{6}:[A-Za-z0-9+/]{43}=\n$/);
    await lab.mintAndSeed([A]);
    const e = await lab.cli(['store', 'encrypt', '--json'], { BOX_QC_KEY: g.stdout });
    expect(e.code, describeResult(e)).toBe(0);
    expect(JSON.parse(e.stdout)).toMatchObject({ ok: true, key_id: 'k7', summary: { changed: 1, unchanged: 0 } });
  });

  it('encrypt then decrypt gives back the seed document; refresh with a key re-encrypts only what it writes', async () => {
    lab = await startLab();
    await lab.mintAndSeed([A, B]);
    const seed = JSON.parse(await readFile(lab.storePath, 'utf8'));
    const env = { BOX_QC_KEY_FILE: await keyFile([K1]) };
    const e = await lab.cli(['store', 'encrypt'], env);
    expect(e.code, describeResult(e)).toBe(0);
    expect(e.stderr).toMatch(/2 encrypted \(key k1\), 0 already done; 2 users/);
    expect(leaked(lab, await readFile(lab.storePath, 'utf8'))).toEqual([]);
    const d = await lab.cli(['store', 'decrypt', '--json'], env);
    expect(d.code, describeResult(d)).toBe(0);
    expect(JSON.parse(d.stdout)).toMatchObject({ summary: { changed: 2 }, identity_removed: true });
    expect(JSON.parse(await readFile(lab.storePath, 'utf8'))).toEqual(seed);
    // The seed's reader (no key) sees a plain store again.
    const t = await lab.cli(['token', '--email', B]);
    expect(t.code, describeResult(t)).toBe(0);
  });

  it('ls with a key refreshes once on a 401 for the stored (encrypted) access token and lists', async () => {
    const l = (lab = await startLab({ rootItems: 10 }));
    await l.mintAndSeed([A]);
    const env = { BOX_QC_KEY_FILE: await keyFile([K1]) };
    expect((await l.cli(['store', 'encrypt'], env)).code).toBe(0);
    l.emu.clock.advance(2 * 3600_000); // Box-side expiry; the store still thinks it is fresh
    const r = await l.cli(['ls', '--json'], env);
    expect(r.code, describeResult(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveLength(10);
    expect(refreshCount(l)).toBe(1);
    expect(leaked(l, await readFile(l.storePath, 'utf8'))).toEqual([]);
  });

  it('rekey k1 -> k2: every value under k2, then k1 can be removed (runs with only k2)', async () => {
    const { l } = await encryptedLab([K1]);
    const both = { BOX_QC_KEY_FILE: await keyFile([K2, K1]) };
    const r = await l.cli(['store', 'rekey'], both);
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stderr).toMatch(/2 re-encrypted \(key k2\)/);
    const again = await l.cli(['store', 'rekey', '--json'], both);
    expect(JSON.parse(again.stdout).summary).toMatchObject({ changed: 0, unchanged: 2 });
    const text = await readFile(l.storePath, 'utf8');
    expect(text).not.toContain('enc:v1:k1:');
    const only2 = { BOX_QC_KEY_FILE: await keyFile([K2]) };
    const f = await l.cli(['refresh', '--all'], only2);
    expect(f.code, describeResult(f)).toBe(0);
    expect(refreshCount(l)).toBe(2);
    for (const email of [A, B]) {
      const t = await l.cli(['token', '--email', email], only2);
      expect(l.emu.isLive(t.stdout.trim()), describeResult(t)).toBe(true);
    }
    expect(leaked(l, await readFile(l.storePath, 'utf8'))).toEqual([]);
  });
});
