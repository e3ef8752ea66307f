/**
 * One user's reads of a file store (issue 20): `status --email E` (shown only) parses the whole file but
 * validates only E's record, as the PostgreSQL store reads one row. Everything that goes on to Box or writes
 * validates every record first: a store with another user's corrupt record is refused (exit 2, one line naming
 * the path, no byte changed, NO request to Box) by `token`, `ls`, `status --check`, `refresh` (due or not),
 * `disconnect` and `status` over everyone. Drives the built binary against the emulator.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { describeResult, runCli } from '../helpers/run-cli.js';
import { seedStore, writeStoreDocument } from '../helpers/seed-store.js';
import { requireBuild } from '../helpers/store-procs.js';

let emu: Emulator;
let dir: string;

beforeAll(async () => {
  requireBuild();
  emu = await startEmulator();
  dir = mkdtempSync(join(tmpdir(), 'boxqc-oneuser-'));
});
afterAll(async () => {
  await emu.close();
  rmSync(dir, { recursive: true, force: true });
});

async function storeWithCorruptNeighbour(name: string, corrupt: Record<string, unknown>) {
  const store = join(dir, name, 'tokens.json');
  const a = emu.mint({ login: 'a@example.com' });
  await seedStore(store, {
    'a@example.com': { access_token: a.access_token, refresh_token: a.refresh_token },
    'b@example.com': { access_token: 'bat', refresh_token: 'brt' },
  });
  const doc = JSON.parse(readFileSync(store, 'utf8'));
  doc.users['b@example.com'] = { ...doc.users['b@example.com'], ...corrupt };
  await writeStoreDocument(store, doc);
  const env = emu.env({ HOME: dir, BOX_QC_STORE: store, BOX_QC_LOCK_WAIT_MS: '2000' });
  return { store, env, a };
}

describe('one-user reads of a file store with another user corrupt', () => {
  for (const [what, corrupt] of [
    ['a token that is a number', { refresh_token: 42 }],
    ['an expiry that is no timestamp', { access_token_expires_at: 'soon' }],
    ['a needs_reconnect that is a string', { needs_reconnect: 'yes' }],
  ] as const) {
    it(`${what}: status --email of the healthy user shows it; all else refuses, untouched, nothing sent`, async () => {
      const { store, env, a } = await storeWithCorruptNeighbour(what.replace(/\W+/g, '-'), corrupt);
      const before = readFileSync(store);

      const one = await runCli(['status', '--json', '--email', 'a@example.com'], { env });
      expect(one.code, describeResult(one)).toBe(0);
      expect(JSON.parse(one.stdout).users.map((u: { email: string }) => u.email)).toEqual(['a@example.com']);

      emu.resetStats();
      for (const args of [
        ['status', '--json'],
        ['status', '--email', 'a@example.com', '--check'],
        ['token', '--email', 'a@example.com'],
        ['ls', '0', '--email', 'a@example.com'],
        ['refresh', '--email', 'a@example.com'],
        ['refresh', '--email', 'a@example.com', '--force'],
        ['refresh', '--all'],
        ['disconnect', '--email', 'a@example.com'],
      ]) {
        const r = await runCli(args, { env });
        const msg = `box-qc ${args.join(' ')}\n${describeResult(r)}`;
        expect(r.code, msg).toBe(2);
        const text = args.includes('--json') ? JSON.parse(r.stdout).error.message : r.stderr;
        expect(text, msg).toContain(store);
        expect(text, msg).toContain('b@example.com');
        expect(r.stderr, msg).not.toMatch(/\n\s+at /);
        expect(readFileSync(store).equals(before), msg).toBe(true);
        expect(emu.stats().total, msg).toBe(0);
      }
      // Nothing reached Box's token endpoint: no refresh token was spent on a store that could not be saved.
      expect(emu.stats().byGrantType.refresh_token ?? 0).toBe(0);
      expect(emu.isLive(a.refresh_token)).toBe(true);
    });
  }
});
