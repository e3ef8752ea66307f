/**
 * The key every `serve` instance on a store signs states with (issue 17): in the store document itself
 * (`box_qc_serve.state_key`; PostgreSQL keeps it in the meta row), so two instances on one database, on
 * different hosts, accept each other's states. Created on first need by an update that only adds it when it
 * is absent: two processes racing end with one key. Whoever can read it can read the tokens beside it anyway.
 */
import { randomBytes } from 'node:crypto';
import { StoreError } from '../../errors.js';
import { formatTimestamp } from '../store/format.js';
import type { StoreDocument, TokenStore } from '../store/types.js';

const KEY_BYTES = 32;

/** The key the document holds, undefined when none; a malformed one is an error (never replaced). */
export function stateKeyOf(doc: StoreDocument, location: string): Buffer | undefined {
  const meta = doc.box_qc_serve;
  if (meta === undefined) return undefined;
  const raw = typeof meta === 'object' && meta !== null ? (meta as Record<string, unknown>).state_key : undefined;
  const key = typeof raw === 'string' && /^[A-Za-z0-9_-]{43}$/.test(raw) ? Buffer.from(raw, 'base64url') : undefined;
  if (key?.length !== KEY_BYTES) {
    throw new StoreError(
      'E_STORE_CORRUPT',
      location,
      `token store ${location} is unreadable: "box_qc_serve.state_key" is not a valid key`,
      {
        hint: 'remove the "box_qc_serve" field to make a new key (links already opened must then be opened again)',
      },
    );
  }
  return key;
}

export async function loadStateKey(store: TokenStore, now = Date.now()): Promise<Buffer> {
  const existing = stateKeyOf(await store.read(), store.location);
  if (existing) return existing;
  // Drawn outside the mutation, which must be pure (update() may run it twice).
  const fresh = randomBytes(KEY_BYTES).toString('base64url');
  const chosen = await store.update((doc) => {
    if (stateKeyOf(doc, store.location) === undefined)
      doc.box_qc_serve = { state_key: fresh, created_at: formatTimestamp(now) };
    return (doc.box_qc_serve as { state_key: string }).state_key;
  });
  return Buffer.from(chosen, 'base64url');
}
