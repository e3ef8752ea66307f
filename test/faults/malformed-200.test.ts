/**
 * T16 (reliability.md 8b; issue 15 item 2): Box commits a rotation and answers its 200 malformed (emulator
 * fault malform-after-commit), through the real binary. A 200 that carries a new refresh token is saved
 * whatever else is wrong with it: 0 users lost, and the next `token` works with the saved pair. A 200 that
 * carries none (or is not JSON) keeps the in-flight marker and says the connection may be lost (exit 75);
 * the next run replays: under box-grace it recovers, under strict rotation it reports refresh_interrupted
 * (exit 4), never a silent loss.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeResult } from '../helpers/run-cli.js';
import { startFaultLab, type FaultLab } from './helpers/lab.js';
import { emptyRow, recordRow, type LedgerRow } from './helpers/ledger.js';
import { readStoreState } from './helpers/store-check.js';

const EMAIL = 'alice@example.com';

/** Carry a new refresh token: must be saved. */
const SALVAGE: Array<[string, Record<string, unknown>]> = [
  ['expires_in a string', { expires_in: '3600' }],
  ['expires_in negative', { expires_in: -3600 }],
  ['expires_in absent', { expires_in: null }],
  ['expires_in 1e12', { expires_in: 1e12 }],
  ['no access_token', { access_token: null }],
];
/** Carry no usable refresh token: rotation unknown, marker kept. */
const UNKNOWN: Array<[string, { patch?: Record<string, unknown>; rawBody?: string }]> = [
  ['no refresh_token', { patch: { refresh_token: null } }],
  ['empty refresh_token', { patch: { refresh_token: '' } }],
  ['HTML 200', { rawBody: '<html><body>Service temporarily rerouted</body></html>' }],
];

async function accessTokenWorks(lab: FaultLab, token: string): Promise<boolean> {
  const res = await fetch(new URL('/2.0/users/me', lab.emu.url), { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status === 200;
}

/**
 * `token --email` with its stdout sent to a file (read, then removed): the suite's leak check rightly flags
 * any token in captured output, and printing one is this command's job.
 */
async function token(lab: FaultLab) {
  const file = join(lab.root, 'token.out');
  const r = await lab.cli(['token', '--email', EMAIL], { shellPrefix: `exec >'${file}';` });
  const printed = await readFile(file, 'utf8').catch(() => '');
  await rm(file, { force: true });
  return { ...r, printed };
}

async function stored(lab: FaultLab) {
  const st = await readStoreState(lab.storePath);
  if (!st.ok) throw new Error(`store unreadable: ${st.error}`);
  return st.doc.users[EMAIL]!;
}

describe.each(['strict', 'box-grace'] as const)('malformed 200s under %s rotation', (rotation) => {
  let lab: FaultLab;
  const row: LedgerRow = emptyRow(
    `malformed 200, every variant (${rotation})`,
    rotation === 'strict' ? UNKNOWN.length : 0,
  );
  beforeAll(async () => {
    lab = await startFaultLab({ rotation });
  });
  afterAll(async () => {
    row.secretsChecked = lab.secrets().size;
    row.leaks = lab.leaks().length;
    recordRow(row);
    await lab.close();
  });

  const fresh = async (fault: Record<string, unknown>) => {
    lab.emu.faults.clear();
    await lab.seed({ [EMAIL]: { ...lab.mint(EMAIL), expired: true } });
    lab.emu.faults.add({
      route: '/oauth2/token',
      grantType: 'refresh_token',
      action: 'malform-after-commit',
      times: 1,
      ...fault,
    });
    row.iterations += 1;
  };
  const check = (ok: boolean) => {
    if (!ok) row.failed += 1;
    return ok;
  };

  for (const [name, patch] of SALVAGE) {
    for (const first of ['refresh', 'token'] as const) {
      it(`${name}, via ${first}: the rotated pair is saved (0 lost), a warning, and the next token works`, async () => {
        await fresh({ patch });
        const r =
          first === 'refresh'
            ? { ...(await lab.cli(['refresh', '--email', EMAIL, '--force'])), printed: '' }
            : await token(lab);
        const u = await stored(lab);
        const live = lab.emu.isLive(u.refresh_token);
        if (!live) {
          row.lost += 1;
          row.unexplained += 1;
          row.lostWhy.silent = (row.lostWhy.silent ?? 0) + 1;
        }
        expect(check(r.code === 0), describeResult(r)).toBe(true);
        expect(check(/warning:/.test(r.stderr)), describeResult(r)).toBe(true);
        expect(live).toBe(true);
        expect(u.refresh_in_flight).toBeUndefined();
        if (first === 'token')
          expect(check(await accessTokenWorks(lab, r.printed.trim())), describeResult(r)).toBe(true);
        const next = await token(lab);
        expect(check(next.code === 0), describeResult(next)).toBe(true);
        expect(check(await accessTokenWorks(lab, next.printed.trim())), describeResult(next)).toBe(true);
        expect(lab.emu.isLive((await stored(lab)).refresh_token)).toBe(true);
      });
    }
  }

  for (const [name, fault] of UNKNOWN) {
    it(`${name}: exit 75 "may be lost", marker kept; the next run ${rotation === 'strict' ? 'reports refresh_interrupted (exit 4)' : 'recovers the user'}`, async () => {
      await fresh(fault);
      const r = await lab.cli(['refresh', '--email', EMAIL, '--force']);
      expect(check(r.code === 75), describeResult(r)).toBe(true);
      expect(check(/may be lost/.test(r.stderr)), describeResult(r)).toBe(true);
      expect(check((await stored(lab)).refresh_in_flight !== undefined)).toBe(true);
      const next = await lab.cli(['refresh', '--email', EMAIL]);
      const u = await stored(lab);
      const live = lab.emu.isLive(u.refresh_token) && u.needs_reconnect === undefined;
      if (!live) {
        row.lost += 1;
        const why = u.needs_reconnect?.reason ?? 'silent';
        row.lostWhy[why] = (row.lostWhy[why] ?? 0) + 1;
        if (why !== 'refresh_interrupted' || next.code !== 4 || rotation !== 'strict') row.unexplained += 1;
      }
      if (rotation === 'strict') {
        expect(check(next.code === 4 && /refresh was interrupted/.test(next.stderr)), describeResult(next)).toBe(true);
      } else {
        expect(check(next.code === 0 && live), describeResult(next)).toBe(true);
      }
    });
  }
});
