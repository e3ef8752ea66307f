/**
 * The sealing store (issue 19) over a real file store: every new token is sealed in the same update, a value
 * moved to another user or field or tampered with does not open, no key + encrypted store refuses plaintext
 * writes with nothing written, an unchanged plaintext value is left as it is (the refresh fence still holds).
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { withTokenCrypto } from '../../../../src/core/store/crypto/crypto-store.js';
import { parseKeyring } from '../../../../src/core/store/crypto/keyring.js';
import { revealToken } from '../../../../src/core/store/crypto/reveal.js';
import { saveUserTokens, markInFlight, setAsideFencedPair } from '../../../../src/core/store/document.js';
import { makeStore, pair, sha256, tempDir } from '../store-test-kit.js';

const K1 = `k1:${Buffer.alloc(32, 1).toString('base64')}`;
const K2 = `k2:${Buffer.alloc(32, 2).toString('base64')}`;
const NOW = Date.parse('2026-12-01T12:00:00Z');
let tmp: ReturnType<typeof tempDir> | undefined;
afterEach(() => tmp?.cleanup());

function open(keys: string | undefined) {
  tmp ??= tempDir();
  const { store, path } = makeStore(tmp.dir);
  return { store: withTokenCrypto(store, keys === undefined ? undefined : parseKeyring(keys, 'BOX_QC_KEY')), path };
}

describe('the sealing store', () => {
  it('seals both tokens of a saved pair under the current key with a store identity, and reveals them', async () => {
    const { store, path } = open(`${K2}\n${K1}`);
    const saved = await store.update((doc) => saveUserTokens(doc, 'a@x.com', pair(1), undefined, NOW));
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain('at1');
    expect(text).not.toContain('rt1');
    const doc = await store.read();
    expect(typeof doc.store_id).toBe('string');
    expect(doc.users['a@x.com']!.refresh_token).toMatch(/^enc:v1:k2:[A-Za-z0-9_-]+$/);
    expect(saved.refresh_token).toBe(doc.users['a@x.com']!.refresh_token);
    expect(await revealToken(store, 'a@x.com', 'refresh_token', saved.refresh_token)).toBe('rt1');
    expect(await revealToken(store, 'a@x.com', 'access_token', saved.access_token)).toBe('at1');
  });

  it('a value swapped between users or fields, or tampered with, does not open (E_TOKEN_AUTH)', async () => {
    const { store } = open(K1);
    await store.update((doc) => {
      saveUserTokens(doc, 'a@x.com', pair(1), undefined, NOW);
      saveUserTokens(doc, 'b@x.com', pair(2), undefined, NOW);
    });
    const { users } = await store.read();
    const a = users['a@x.com']!;
    const b = users['b@x.com']!;
    await expect(revealToken(store, 'a@x.com', 'refresh_token', b.refresh_token)).rejects.toMatchObject({
      code: 'E_TOKEN_AUTH',
      exitCode: 2,
    });
    await expect(revealToken(store, 'a@x.com', 'refresh_token', a.access_token)).rejects.toMatchObject({
      code: 'E_TOKEN_AUTH',
    });
    const body = a.refresh_token.slice(-10);
    const flipped = a.refresh_token.slice(0, -10) + (body[0] === 'A' ? 'B' : 'A') + body.slice(1);
    await expect(revealToken(store, 'a@x.com', 'refresh_token', flipped)).rejects.toMatchObject({
      code: 'E_TOKEN_AUTH',
      message: expect.stringMatching(/^a@x\.com: .*key k1/),
    });
  });

  it('an unknown key id and a missing key are refused naming the user and the key id', async () => {
    const { store } = open(K1);
    await store.update((doc) => saveUserTokens(doc, 'a@x.com', pair(1), undefined, NOW));
    const stored = (await store.read()).users['a@x.com']!.refresh_token;
    const { store: k2only } = open(K2);
    await expect(revealToken(k2only, 'a@x.com', 'refresh_token', stored)).rejects.toMatchObject({
      code: 'E_KEY_UNKNOWN',
      message: expect.stringMatching(/^a@x\.com: .*key k1/),
    });
    const { store: none } = open(undefined);
    await expect(revealToken(none, 'a@x.com', 'refresh_token', stored)).rejects.toMatchObject({
      code: 'E_KEY_MISSING',
      exitCode: 2,
      message: expect.stringMatching(/^a@x\.com: .*key k1/),
    });
  });

  it('without a key, a plaintext write into an encrypted store is refused and nothing is written', async () => {
    const { store, path } = open(K1);
    await store.update((doc) => saveUserTokens(doc, 'a@x.com', pair(1), undefined, NOW));
    const before = sha256(path);
    const { store: none } = open(undefined);
    await expect(none.update((doc) => saveUserTokens(doc, 'b@x.com', pair(2), undefined, NOW))).rejects.toMatchObject({
      code: 'E_KEY_MISSING',
      message: expect.stringMatching(/^b@x\.com: .*key k1/),
    });
    await expect(none.ensureWritable()).rejects.toMatchObject({ code: 'E_KEY_MISSING' });
    expect(sha256(path)).toBe(before);
    // A write that carries no new token (a marker) still works without the key.
    await none.update((doc) => markInFlight(doc, 'a@x.com', { pid: 1, host: 'h' }, NOW));
  });

  it('without a key on a plaintext store nothing changes: values and format as the seed writes them', async () => {
    const { store, path } = open(undefined);
    await store.update((doc) => saveUserTokens(doc, 'a@x.com', pair(1), undefined, NOW));
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    expect(doc.users['a@x.com'].refresh_token).toBe('rt1');
    expect(doc.store_id).toBeUndefined();
  });

  it('leaves an unchanged plaintext token as it is (the refresh fence), seals it on its next write', async () => {
    const { store: plain } = open(undefined);
    await plain.update((doc) => saveUserTokens(doc, 'a@x.com', pair(1), undefined, NOW));
    const { store } = open(K1);
    await store.update((doc) => markInFlight(doc, 'a@x.com', { pid: 1, host: 'h' }, NOW));
    expect((await store.read()).users['a@x.com']!.refresh_token).toBe('rt1');
    await store.update((doc) =>
      saveUserTokens(doc, 'a@x.com', pair(2), undefined, NOW, { fence: { refreshToken: 'rt1' } }),
    );
    expect((await store.read()).users['a@x.com']!.refresh_token).toMatch(/^enc:v1:k1:/);
  });

  it('seals a fenced-out pair set aside beside the record', async () => {
    const { store, path } = open(K1);
    await store.update((doc) => saveUserTokens(doc, 'a@x.com', pair(1), undefined, NOW));
    await store.update((doc) => setAsideFencedPair(doc, 'a@x.com', pair(9), 1, NOW));
    expect(readFileSync(path, 'utf8')).not.toMatch(/at9|rt9/);
  });

  it('encrypt, rekey and decrypt one user at a time; decrypt restores the plaintext document', async () => {
    const { store: plain, path } = open(undefined);
    await plain.update((doc) => {
      saveUserTokens(doc, 'a@x.com', pair(1), undefined, NOW);
      saveUserTokens(doc, 'b@x.com', pair(2), undefined, NOW);
    });
    const original = JSON.parse(readFileSync(path, 'utf8'));
    const { convertStore } = await import('../../../../src/core/store/crypto/convert.js');
    const { store: s1 } = open(K1);
    expect((await convertStore(s1, 'encrypt')).summary).toMatchObject({ changed: 2, unchanged: 0 });
    expect((await convertStore(s1, 'encrypt')).summary).toMatchObject({ changed: 0, unchanged: 2 });
    const { store: s21 } = open(`${K2}\n${K1}`);
    expect((await convertStore(s21, 'rekey')).summary).toMatchObject({ changed: 2 });
    const { store: s2 } = open(K2);
    expect(JSON.stringify((await s2.read()).users)).not.toContain('enc:v1:k1:');
    expect(await revealToken(s2, 'b@x.com', 'refresh_token', (await s2.read()).users['b@x.com']!.refresh_token)).toBe(
      'rt2',
    );
    const report = await convertStore(s2, 'decrypt');
    expect(report).toMatchObject({ summary: { changed: 2 }, identity_removed: true });
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(original);
  });
});

describe('store migrate and the store identity', () => {
  it('a destination without encrypted values takes the source identity; two encrypted identities are refused', async () => {
    const { mergeDocuments } = await import('../../../../src/core/store/migrate.js');
    const enc = (id: string) => ({ access_token: `enc:v1:k1:${id}AAAA`, refresh_token: `enc:v1:k1:${id}BBBB` });
    const source = { version: 1 as const, store_id: 'src', users: { 'a@x.com': { ...enc('a'), updated_at: 'x' } } };
    const plainDst = {
      version: 1 as const,
      store_id: 'old',
      users: { 'b@x.com': { access_token: 'p', refresh_token: 'q' } },
    };
    mergeDocuments(plainDst as never, source as never);
    expect(plainDst.store_id).toBe('src');
    const encDst = { version: 1 as const, store_id: 'other', users: { 'c@x.com': enc('c') } };
    expect(() => mergeDocuments(encDst as never, source as never, '/t')).toThrow(
      expect.objectContaining({ code: 'E_STORE_ID_CONFLICT', exitCode: 2 }),
    );
    expect(encDst.store_id).toBe('other');
    expect(Object.keys(encDst.users)).toEqual(['c@x.com']);
  });
});
