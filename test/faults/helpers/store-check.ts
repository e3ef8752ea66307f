/**
 * Judging the store after a fault: does it parse (with box-qc's own strict parser, as the next run would),
 * is every stored pair one the emulator issued, and which users were lost and how.
 */
import { readFile } from 'node:fs/promises';
import { parseStoreBytes } from '../../../src/core/store/format.js';
import type { StoreDocument } from '../../../src/core/store/types.js';
import { iso } from '../../helpers/time.js';
import { writeStoreDocument } from '../../helpers/seed-store.js';
import type { FaultLab, Pair } from './lab.js';

export type StoreState = { ok: true; doc: StoreDocument; bytes: Buffer } | { ok: false; error: string };

export async function readStoreState(path: string): Promise<StoreState> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    return { ok: false, error: `unreadable: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
  }
  try {
    JSON.parse(bytes.toString('utf8'));
    return { ok: true, doc: parseStoreBytes(bytes, path), bytes };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** Users whose stored pair the emulator never issued (as a pair). */
export function foreignPairs(lab: FaultLab, doc: StoreDocument): string[] {
  const issued = lab.issued();
  return Object.entries(doc.users)
    .filter(([, u]) => !issued.has(`${u.access_token} ${u.refresh_token}`))
    .map(([email]) => email);
}

export interface UserVerdict {
  email: string;
  /** undefined: still connected (stored refresh token live at the emulator). */
  lost?: 'refresh_interrupted' | 'refresh_token_invalid' | 'refresh_token_expired' | 'silent';
  inFlightMarker: boolean;
}

export function judgeUsers(lab: FaultLab, doc: StoreDocument): UserVerdict[] {
  return Object.entries(doc.users).map(([email, u]) => {
    const v: UserVerdict = { email, inFlightMarker: u.refresh_in_flight !== undefined };
    if (u.needs_reconnect) v.lost = u.needs_reconnect.reason;
    else if (!lab.emu.isLive(u.refresh_token)) v.lost = 'silent';
    return v;
  });
}

/** True when the emulator committed a rotation for `login` from a request received in [from, to]. */
export function committedBetween(lab: FaultLab, login: string, from: number, to: number): boolean {
  const events = lab.emu.chains(login)[login.toLowerCase()] ?? [];
  return events.some((e) => e.committedAt !== undefined && e.receivedAt >= from && e.receivedAt <= to);
}

/** "Reconnects" users between iterations (nobody runs then): a fresh grant replaces the record. */
export async function reconnect(lab: FaultLab, emails: string[]): Promise<void> {
  if (emails.length === 0) return;
  const doc = JSON.parse(await lab.readRaw()) as StoreDocument;
  const now = Date.now();
  for (const email of emails) {
    const p: Pair = lab.mint(email);
    const u = doc.users[email]!;
    delete u.needs_reconnect;
    delete u.refresh_in_flight;
    Object.assign(u, p, {
      access_token_expires_at: iso(now + 50 * 60_000),
      updated_at: iso(now),
      refresh_token_issued_at: iso(now),
      generation: (u.generation ?? 1) + 1,
    });
  }
  await writeStoreDocument(lab.storePath, doc);
}

export const USERS3 = ['ann@example.com', 'bert@example.com', 'cleo@example.com'];

export async function seedFresh(lab: FaultLab, emails: string[], opts: { expired?: boolean } = {}): Promise<void> {
  const users: Parameters<FaultLab['seed']>[0] = {};
  for (const e of emails) users[e] = { ...lab.mint(e), ...(opts.expired ? { expired: true } : {}) };
  await lab.seed(users);
}
