/**
 * Issue 15 review-2 finding 6: a backend written in Python stores None as null. The format accepts
 * `"refresh_in_flight": null` and `"needs_reconnect": null`; they mean "absent" and every command must treat
 * them so. Before the fix every refresh of that user crashed (TypeError reading 'pid' of null). Through the
 * built binary against the emulator; requires a build (dist/).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeResult, runCli } from '../../helpers/run-cli.js';
import { iso } from '../../helpers/time.js';
import { startEmulator, type Emulator } from '../../../src/emulator/index.js';
import { parseStoreBytes } from '../../../src/core/store/format.js';
import { requireBuild } from '../../helpers/store-procs.js';

let emu: Emulator;
let dir: string;
beforeAll(async () => {
  requireBuild();
  emu = await startEmulator({});
  dir = mkdtempSync(join(tmpdir(), 'boxqc-null-'));
});
afterAll(async () => {
  await emu.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('null bookkeeping fields (a Python backend writing None)', () => {
  it('refresh_in_flight: null and needs_reconnect: null: status, token and refresh exit 0; the saved file is valid and keeps unknown fields', async () => {
    const store = join(dir, 'tokens.json');
    const m = emu.mint({ login: 'alice@example.com' });
    const now = iso(Date.now());
    const rec = {
      access_token: m.access_token,
      refresh_token: m.refresh_token,
      access_token_expires_at: '2000-01-01T00:00:00Z',
      connected_at: now,
      updated_at: now,
      generation: 1,
      refresh_in_flight: null,
      needs_reconnect: null,
      backend_note: { keep: [1, 'x'] },
    };
    writeFileSync(
      store,
      `${JSON.stringify({ version: 1, users: { 'alice@example.com': rec }, backend_top: 'kept' }, null, 2)}\n`,
      { mode: 0o600 },
    );
    const env = { ...emu.env(), HOME: dir, XDG_CONFIG_HOME: join(dir, 'cfg'), BOX_QC_STORE: store };
    for (const args of [
      ['status'],
      ['token', '--email', 'alice@example.com'],
      ['refresh', '--email', 'alice@example.com', '--force'],
      ['status', '--json'],
    ]) {
      const r = await runCli(args, { env });
      expect(r.code, `${args.join(' ')}: ${describeResult(r)}`).toBe(0);
      expect(r.stderr).not.toMatch(/TypeError|\n\s+at /);
    }
    const bytes = readFileSync(store);
    const doc = parseStoreBytes(bytes, store);
    const saved = doc.users['alice@example.com']!;
    expect(emu.isLive(saved.refresh_token)).toBe(true);
    expect(saved.refresh_token).not.toBe(m.refresh_token);
    expect(saved.refresh_in_flight ?? undefined).toBeUndefined();
    const raw = JSON.parse(bytes.toString('utf8'));
    expect(raw.users['alice@example.com'].backend_note).toEqual({ keep: [1, 'x'] });
    expect(raw.backend_top).toBe('kept');
  }, 60_000);
});
