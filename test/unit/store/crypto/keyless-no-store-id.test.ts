/**
 * A store holding ciphertext whose `store_id` was removed by hand (review of 0440c4c, finding 1): a keyless
 * process must not write plaintext beside the ciphertext. The check before a code or refresh token is spent
 * (ensureWritable) refuses it on the file store, and the update itself still refuses as before.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import { withTokenCrypto } from '../../../../src/core/store/crypto/crypto-store.js';
import { parseKeyring } from '../../../../src/core/store/crypto/keyring.js';
import { saveUserTokens } from '../../../../src/core/store/document.js';
import { makeStore, pair, tempDir } from '../store-test-kit.js';

const K1 = `k1:${Buffer.alloc(32, 1).toString('base64')}`;
const NOW = Date.parse('2026-12-01T12:00:00Z');
let tmp: ReturnType<typeof tempDir> | undefined;
afterEach(() => tmp?.cleanup());

it('a keyless process refuses to save plaintext into a store holding ciphertext without store_id', async () => {
  tmp = tempDir();
  const { store: raw, path } = makeStore(tmp.dir);
  const keyed = withTokenCrypto(raw, parseKeyring(K1, 'BOX_QC_KEY'));
  await keyed.update((d) => {
    saveUserTokens(d, 'a@x.com', pair(1), undefined, NOW);
    saveUserTokens(d, 'b@x.com', pair(2), undefined, NOW);
  });
  const doc = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  delete doc.store_id;
  writeFileSync(path, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
  const before = readFileSync(path, 'utf8');

  const keyless = withTokenCrypto(makeStore(tmp.dir).store, undefined);
  await expect(keyless.ensureWritable()).rejects.toMatchObject({ code: 'E_KEY_MISSING' });
  await expect(keyless.update((d) => saveUserTokens(d, 'c@x.com', pair(9), undefined, NOW))).rejects.toMatchObject({
    code: 'E_KEY_MISSING',
  });
  expect(readFileSync(path, 'utf8')).toBe(before);
});
