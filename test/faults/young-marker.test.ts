/**
 * Issue 15 item 5, interface D, through two real processes: A's refresh POST is held at Box (latency) and
 * A loses its user lock meanwhile (its lock file removed: what a PostgreSQL session kill does to an advisory
 * lock). B then gets the lock and finds A's in-flight marker, young and A alive. B must not present the same
 * refresh token (strict rotation: one of the two gets invalid_grant; family revocation: the grant dies): it
 * waits for A's save and adopts it. Exactly one POST presents that refresh token; A's fenced save succeeds.
 */
import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { userLockPath } from '../../src/core/store/file/file-store.js';
import { describeResult } from '../helpers/run-cli.js';
import { sleep, startFaultLab, type FaultLab } from './helpers/lab.js';
import { emptyRow, recordRow } from './helpers/ledger.js';
import { readStoreState } from './helpers/store-check.js';

const EMAIL = 'alice@example.com';

let lab: FaultLab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

async function waitForMarker(l: FaultLab, maxMs: number): Promise<boolean> {
  const end = Date.now() + maxMs;
  while (Date.now() < end) {
    const st = await readStoreState(l.storePath);
    if (st.ok && st.doc.users[EMAIL]?.refresh_in_flight !== undefined) return true;
    await sleep(20);
  }
  return false;
}

describe('a young in-flight marker of a live process (D)', () => {
  it('a second refresher that gets the lock waits for it and adopts the rotation: exactly one POST for that refresh token', async () => {
    lab = await startFaultLab({ rotation: 'strict' });
    const seeded = lab.mint(EMAIL);
    await lab.seed({ [EMAIL]: { ...seeded, expired: true } });
    lab.emu.faults.add({ route: '/oauth2/token', grantType: 'refresh_token', action: 'latency', ms: 3000, times: 1 });
    const a = lab.start(['refresh', '--email', EMAIL, '--force']);
    expect(await waitForMarker(lab, 10_000)).toBe(true);
    await sleep(300); // A's POST is now held at the emulator
    await rm(userLockPath(lab.storePath, EMAIL), { force: true }); // A "loses" its lock
    const b = await lab.cli(['refresh', '--email', EMAIL, '--force']);
    const ra = await a.done;
    await lab.settle();
    const st = await readStoreState(lab.storePath);
    const u = st.ok ? st.doc.users[EMAIL] : undefined;
    const events = lab.emu.chains(EMAIL)[EMAIL] ?? [];
    const row = emptyRow('young in-flight marker: second refresher waits (D)');
    row.iterations = 1;
    if (!u || !lab.emu.isLive(u.refresh_token) || u.needs_reconnect) {
      row.lost = 1;
      row.unexplained = 1;
    }
    const presentedSeeded = events.filter((e) => e.presentedGeneration === events[0]?.presentedGeneration).length;
    if (presentedSeeded !== 1 || ra.code !== 0 || b.code !== 0) row.failed = 1;
    row.secretsChecked = lab.secrets().size;
    row.leaks = lab.leaks().length;
    row.notes = `A exit ${ra.code}, B exit ${b.code} after ${b.wallMs} ms, ${events.length} refresh POST(s)`;
    recordRow(row);
    expect(ra.code, describeResult(ra)).toBe(0);
    expect(b.code, describeResult(b)).toBe(0);
    expect(events).toHaveLength(1);
    expect(lab.emu.isLive(u!.refresh_token)).toBe(true);
    expect(u!.refresh_in_flight).toBeUndefined();
    expect(b.stderr).toMatch(/skipped/);
  }, 60_000);
});
