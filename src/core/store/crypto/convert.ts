/**
 * `box-qc store encrypt | rekey | decrypt` (issue 19): every user's token values converted ONE USER AT A TIME,
 * each under that user's lock and in one update() of its own. A refresh holds the same user lock from its
 * re-read to its save, so a conversion never interleaves with one (no rotated pair is written over, none is
 * converted from a stale read); the lock-free reader of a fresh access token sees the old or the new value,
 * both of which open. A kill between two users leaves each record whole, under one key or the other, so a
 * re-run simply finishes the rest (already converted values count as unchanged).
 */
import { ConfigError, InterruptedError } from '../../../errors.js';
import type { StoreDocument, TokenConversion, TokenStore } from '../types.js';
import { isEncrypted, keyIdOf, TOKEN_PATHS, valueAt } from './envelope.js';

export interface ConvertReport {
  mode: TokenConversion;
  /** The key values are now under (encrypt, rekey); null for decrypt. */
  key_id: string | null;
  users: Array<{ email: string; action: 'changed' | 'unchanged' | 'missing' }>;
  summary: { changed: number; unchanged: number; missing: number; total: number };
  /** decrypt: the store identity was removed (no encrypted value left), as the seed's format has none. */
  identity_removed?: boolean;
  /**
   * Users whose values, read again after the run, are still not as asked (rekey: not under the current key;
   * decrypt: still encrypted): written meanwhile by a process with an older key text (a long-running serve,
   * a library process). The old key must not be removed yet (review of issue 19, finding 4).
   */
  leftover: string[];
}

export async function convertStore(
  store: TokenStore,
  mode: TokenConversion,
  options: { signal?: AbortSignal; onUser?: (email: string, action: string) => void } = {},
): Promise<ConvertReport> {
  const crypto = store.tokenCrypto;
  if (!crypto || crypto.currentKeyId === undefined) {
    throw new ConfigError(`store ${mode} needs a key: set BOX_QC_KEY_FILE (a 0600 file) or BOX_QC_KEY`, {
      code: 'E_KEY_MISSING',
      hint: 'make one with `box-qc store keygen`',
    });
  }
  const snapshot = await store.read();
  // Every value this run must open, opened first, read-only: a tampered or unknown-key value stops the run
  // before any user is written, so a refusal means the store is as it was (review of issue 19, finding 3).
  if (mode !== 'encrypt') await openAll(snapshot, (email, field, value) => crypto.reveal(email, field, value));
  const emails = Object.keys(snapshot.users).sort();
  const report: ConvertReport = {
    mode,
    key_id: mode === 'decrypt' ? null : crypto.currentKeyId,
    users: [],
    summary: { changed: 0, unchanged: 0, missing: 0, total: emails.length },
    leftover: [],
  };
  for (const email of emails) {
    if (options.signal?.aborted) throw new InterruptedError(`store ${mode} interrupted: re-run it to finish`);
    const action = await store.withUserLock(email, () => crypto.convert(email, mode), {
      ...(options.signal ? { signal: options.signal } : {}),
    });
    report.users.push({ email, action });
    report.summary[action] += 1;
    options.onUser?.(email, action);
  }
  if (mode === 'decrypt') report.identity_removed = await crypto.forgetIdentityIfPlain();
  report.leftover = leftoverUsers(await store.read(), mode, crypto.currentKeyId);
  return report;
}

async function openAll(
  doc: StoreDocument,
  reveal: (email: string, field: string, value: string) => Promise<string>,
): Promise<void> {
  for (const [email, rec] of Object.entries(doc.users)) {
    for (const path of TOKEN_PATHS) {
      const v = valueAt(rec, path);
      if (v !== undefined && isEncrypted(v)) await reveal(email, path.join('.'), v);
    }
  }
}

function leftoverUsers(doc: StoreDocument, mode: TokenConversion, currentKeyId: string): string[] {
  const out: string[] = [];
  for (const [email, rec] of Object.entries(doc.users)) {
    const off = TOKEN_PATHS.some((path) => {
      const v = valueAt(rec, path);
      if (v === undefined || v === '') return false;
      if (mode === 'decrypt') return isEncrypted(v);
      return keyIdOf(v) !== currentKeyId;
    });
    if (off) out.push(email);
  }
  return out.sort();
}
