/**
 * The key text (issue 19): `<key-id>:<base64 of 32 bytes>` per line, first = current, comments and blank lines
 * ignored; every malformed line refused with its line number and never echoed; the key file's mode and owner.
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseKeyring } from '../../../../src/core/store/crypto/keyring.js';
import { loadKeyring } from '../../../../src/core/store/crypto/key-source.js';
import { BoxQcError } from '../../../../src/errors.js';

const K1 = Buffer.alloc(32, 1).toString('base64');
const K2 = Buffer.alloc(32, 2).toString('base64');

function refusal(fn: () => unknown): BoxQcError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BoxQcError);
    return err as BoxQcError;
  }
  throw new Error('expected a refusal');
}

describe('parseKeyring', () => {
  it('takes the first key as current and keeps the others for reading', () => {
    const ring = parseKeyring(`# rotated 2026-12\n\nk2:${K2}\r\nk1:${K1}\n`, 'BOX_QC_KEY');
    expect(ring.current.id).toBe('k2');
    expect([...ring.byId.keys()]).toEqual(['k2', 'k1']);
    expect(ring.byId.get('k1')!.key.equals(Buffer.alloc(32, 1))).toBe(true);
  });

  it.each([
    ['no colon', `k1${K1}`, /line 2 is not <key-id>:<base64 key>/],
    ['a short key', `k1:${Buffer.alloc(16).toString('base64')}`, /line 2 \(key k1\): .*exactly 32 bytes/],
    ['a long key', `k1:${Buffer.alloc(33).toString('base64')}`, /line 2 \(key k1\)/],
    ['not base64', `k1:${'!'.repeat(43)}=`, /line 2 \(key k1\)/],
    ['a bad id', `k 1:${K1}`, /line 2: the key id/],
  ])('refuses %s with the line number, exit 2, without echoing the line', (_name, line, message) => {
    const err = refusal(() => parseKeyring(`# keys\n${line}\n`, 'BOX_QC_KEY_FILE'));
    expect(err.exitCode).toBe(2);
    expect(err.code).toBe('E_KEY_CONFIG');
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain(line.slice(3, 20));
  });

  it('refuses a duplicate id, naming the line', () => {
    const err = refusal(() => parseKeyring(`k1:${K1}\nk1:${K2}\n`, 'BOX_QC_KEY'));
    expect(err.message).toMatch(/BOX_QC_KEY line 2: key id k1 appears twice/);
    expect(err.message).not.toContain(K2.slice(0, 10));
  });

  it('refuses text with no key', () => {
    expect(refusal(() => parseKeyring('# nothing\n\n', 'BOX_QC_KEY')).message).toMatch(/holds no key/);
  });
});

describe('loadKeyring', () => {
  const dir = mkdtempSync(join(tmpdir(), 'boxqc-keys-'));
  const euid = process.geteuid?.();

  it('reads a 0600 key file owned by us; nothing configured is no keyring', () => {
    const path = join(dir, 'ok');
    writeFileSync(path, `k1:${K1}\n`, { mode: 0o600 });
    expect(loadKeyring({ BOX_QC_KEY_FILE: path }, euid)?.current.id).toBe('k1');
    expect(loadKeyring({ BOX_QC_KEY: `k2:${K2}` }, euid)?.current.id).toBe('k2');
    expect(loadKeyring({}, euid)).toBeUndefined();
    expect(loadKeyring({ BOX_QC_KEY: '  ' }, euid)).toBeUndefined();
  });

  it.each([0o644, 0o640, 0o604, 0o660])('refuses a key file with mode %o (exit 2)', (mode) => {
    const path = join(dir, `m${mode}`);
    writeFileSync(path, `k1:${K1}\n`);
    chmodSync(path, mode);
    const err = refusal(() => loadKeyring({ BOX_QC_KEY_FILE: path }, euid));
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(/readable by others/);
  });

  it('refuses a key file owned by someone else, a missing one, and both variables at once', () => {
    const path = join(dir, 'other');
    writeFileSync(path, `k1:${K1}\n`, { mode: 0o600 });
    expect(refusal(() => loadKeyring({ BOX_QC_KEY_FILE: path }, (euid ?? 0) + 1)).message).toMatch(/owned by uid/);
    expect(refusal(() => loadKeyring({ BOX_QC_KEY_FILE: join(dir, 'nope') }, euid)).message).toMatch(/ENOENT/);
    const both = refusal(() => loadKeyring({ BOX_QC_KEY_FILE: path, BOX_QC_KEY: `k1:${K1}` }, euid));
    expect(both.message).toMatch(/both set/);
  });
});
