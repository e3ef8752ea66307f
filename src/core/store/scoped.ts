/**
 * One user's reads and the paged listing (issue 20) for any TokenStore: the backend's own readUser/listUsers
 * when it has them (both built-in stores do), else a whole-document read (a store written elsewhere).
 */
import { normalizeStoreEmail } from './format.js';
import type { ReadUserOptions, StoredUser, TokenStore, UpdateOptions, UserSnapshot } from './types.js';

/** The store's slice for this user: getUser(snapshot, email) reads it. */
export function readUser(store: TokenStore, email: string, options?: ReadUserOptions): Promise<UserSnapshot> {
  return store.readUser ? store.readUser(normalizeStoreEmail(email), options) : store.read();
}

/** Every user in email order (code-unit order, as Object.keys(...).sort()). */
export async function* eachUser(store: TokenStore, pageSize?: number): AsyncGenerator<[string, StoredUser]> {
  if (store.listUsers) {
    yield* store.listUsers(pageSize === undefined ? {} : { pageSize });
    return;
  }
  const doc = await store.read();
  for (const email of Object.keys(doc.users).sort()) yield [email, doc.users[email]!];
}

/** update() options for a mutation of this one user only (the PostgreSQL store loads just that row). */
export function onlyUser(email: string, options?: UpdateOptions): UpdateOptions {
  return { ...options, emails: [normalizeStoreEmail(email)] };
}
