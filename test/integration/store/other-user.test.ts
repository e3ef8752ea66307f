/**
 * Ownership and modes seen from another uid (issue 3 "Permissions"; reliability.md T8). Root bypasses file
 * modes, so the checks run as uid 65534 through setpriv, and skip with a printed reason where that is
 * impossible. Requires a build (dist/).
 */
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { saveUserTokens } from '../../../src/core/store/index.js';
import { PYTHON_BACKEND_FIXTURE } from '../../fixtures/store/corrupt-fixtures.js';
import { makeStore, pair, sha256 } from '../../unit/store/store-test-kit.js';
import { requireBuild, startWorker } from '../../helpers/store-procs.js';

const run = promisify(execFile);
const AS_NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
let skipReason = '';
let dir: string;

beforeAll(async () => {
  requireBuild();
  try {
    await run(AS_NOBODY[0]!, [...AS_NOBODY.slice(1), 'true']);
  } catch (err) {
    skipReason = `cannot switch to uid 65534 with setpriv (${(err as Error).message.split('\n')[0]}): other-user tests skipped`;
    console.log(skipReason);
  }
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'boxqc-uid-'));
  chmodSync(dir, 0o755);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('another user', () => {
  it('a store owned by someone else is refused with exit 2 and left unchanged', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const store = join(dir, 'tokens.json');
    copyFileSync(PYTHON_BACKEND_FIXTURE, store);
    chmodSync(store, 0o644);
    const before = sha256(store);
    for (const op of ['read', 'save'] as const) {
      const r = await startWorker({ op, store, email: 'a@example.com' }, AS_NOBODY).done;
      expect(r.code, JSON.stringify(r)).toBe(2);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, code: 'E_STORE_OWNER' });
      expect(JSON.parse(r.stdout).message).toContain(`${store} is owned by uid 0`);
    }
    expect(sha256(store)).toBe(before);
    expect(statSync(store).mode & 0o777).toBe(0o644);
  });

  it('cannot read a store box-qc wrote, even in a world-readable folder', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const { store, path } = makeStore(dir);
    await store.update((d) => saveUserTokens(d, 'a@example.com', pair(1), undefined, Date.now()));
    expect(readFileSync(path, 'utf8')).toContain('a@example.com');
    await expect(run(AS_NOBODY[0]!, [...AS_NOBODY.slice(1), 'cat', path])).rejects.toThrow(/Permission denied/);
  });
});
