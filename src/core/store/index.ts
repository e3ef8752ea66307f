/** The token store: the file backend, the format helpers and the pure save rules (issue 3). */
export * from './types.js';
export { openFileStore, userLockPath, storeLockPath, type FileStoreOptions } from './file/file-store.js';
export {
  STORE_FORMAT_VERSION,
  emptyDocument,
  formatTimestamp,
  normalizeStoreEmail,
  parseStoreBytes,
  parseTimestamp,
  serializeStore,
  validateDocument,
} from './format.js';
export {
  accessTokenLifetimeSeconds,
  clearInFlight,
  getUser,
  listUsers,
  markInFlight,
  markNeedsReconnect,
  removeUser,
  saveUserTokens,
  type InFlightOwner,
} from './document.js';
export type { StoreFs } from './file/fs-layer.js';
export type { LockHost } from './file/lock-file.js';
