/**
 * `store migrate` and the store identity (issue 19): encrypted values are bound to their store's `store_id`
 * (the additional data), so ciphertext copied as it is only opens in the destination if the identity travels
 * with it. A destination with no encrypted value of its own takes the source's identity; two stores holding
 * encrypted values under different identities cannot be merged (their values would stop opening).
 */
import { StoreError } from '../../../errors.js';
import type { StoreDocument } from '../types.js';
import { firstEncrypted } from './envelope.js';

export function adoptStoreIdentity(doc: StoreDocument, source: StoreDocument, location: string): void {
  const from = source.store_id;
  if (typeof from !== 'string' || from === '' || doc.store_id === from) return;
  if (firstEncrypted(source) === undefined) return;
  if (typeof doc.store_id === 'string' && doc.store_id !== '' && firstEncrypted(doc) !== undefined) {
    throw new StoreError(
      'E_STORE_ID_CONFLICT',
      location,
      'both stores hold encrypted tokens under different store identities: migrating would leave values that no longer decrypt; nothing was written',
      { hint: 'run `box-qc store decrypt` on one of them first, then migrate, then `box-qc store encrypt`' },
    );
  }
  doc.store_id = from;
}
