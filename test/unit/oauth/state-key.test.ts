import { describe, expect, it } from 'vitest';
import { mkdtemp, stat, chmod, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateStateKey, readStateKey } from '../../../src/core/oauth/state-key.js';

describe('state key file', () => {
  it('is created on first use as a 0600 file in a 0700 folder and reused afterwards', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'boxqc-key-')), 'box-qc');
    expect(await readStateKey(dir)).toBeUndefined();
    const key = await loadOrCreateStateKey(dir);
    expect(key).toHaveLength(32);
    expect((await stat(join(dir, 'state-key'))).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect(await loadOrCreateStateKey(dir)).toEqual(key);
    expect(await readStateKey(dir)).toEqual(key);
  });

  it('refuses a key readable by others and a corrupt key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'boxqc-key-'));
    await loadOrCreateStateKey(dir);
    await chmod(join(dir, 'state-key'), 0o644);
    await expect(readStateKey(dir)).rejects.toMatchObject({ code: 'E_STATE_KEY_PERMISSIONS', exitCode: 2 });
    await writeFile(join(dir, 'state-key'), 'short\n', { mode: 0o600 });
    await chmod(join(dir, 'state-key'), 0o600);
    await expect(readStateKey(dir)).rejects.toMatchObject({ code: 'E_STATE_KEY_CORRUPT' });
  });
});
