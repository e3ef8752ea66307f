/** An in-memory TokenStore for session unit tests: per-user locks serialise, writes can be made to fail. */
import { StoreWriteError } from '../../../src/errors.js';
import type { StoreDocument, TokenStore } from '../../../src/core/store/types.js';

export interface MemoryStore extends TokenStore {
  doc: StoreDocument;
  writes: number;
  failWrites: boolean;
  notWritable: boolean;
  /** Runs right after the user lock is taken (simulates another process that rotated while we waited). */
  onLocked?: (doc: StoreDocument) => void;
  /** reserve / update / release, in call order (interface B of issue 15). */
  events: string[];
}

export function memoryStore(doc: StoreDocument): MemoryStore {
  const locks = new Map<string, Promise<unknown>>();
  const store: MemoryStore = {
    location: 'memory',
    doc,
    writes: 0,
    failWrites: false,
    notWritable: false,
    events: [],
    async read() {
      return structuredClone(store.doc);
    },
    async withUserLock(email, fn) {
      const prev = locks.get(email) ?? Promise.resolve();
      const run = prev
        .catch(() => {})
        .then(async () => {
          store.onLocked?.(store.doc);
          store.onLocked = undefined;
          return fn();
        });
      locks.set(email, run);
      return run;
    },
    async update(mutate) {
      if (store.failWrites) throw new StoreWriteError('E_STORE_WRITE', 'memory', 'disk full');
      store.events.push('update');
      const next = structuredClone(store.doc);
      const out = mutate(next);
      store.doc = next;
      store.writes += 1;
      return out;
    },
    async ensureWritable() {
      if (store.notWritable)
        throw new StoreWriteError('E_STORE_NO_SPACE', 'memory', 'no space left for the token store');
    },
    async reserveWrite() {
      if (store.notWritable)
        throw new StoreWriteError('E_STORE_NO_SPACE', 'memory', 'no space left for the token store');
      store.events.push('reserve');
      return { release: async () => void store.events.push('release') };
    },
    async inspect() {
      return { location: 'memory', exists: true, kind: 'file' };
    },
    async close() {},
  };
  return store;
}
