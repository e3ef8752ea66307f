/**
 * A view of a users map that reports every key a mutation sets, defines or deletes (set, delete,
 * Object.assign and defineProperty all end in one of these traps; reads pass straight through). Group commit
 * checks only the records an update touched (group-commit.ts); the encryption wrapper seals only those
 * (crypto/crypto-store.ts).
 */
export function writeView<T extends object>(target: T, note: (key: string) => void): T {
  const seen = (k: string | symbol) => {
    if (typeof k === 'string') note(k);
  };
  return new Proxy(target, {
    set(t, k, v) {
      seen(k);
      return Reflect.set(t, k, v);
    },
    defineProperty(t, k, d) {
      seen(k);
      return Reflect.defineProperty(t, k, d);
    },
    deleteProperty(t, k) {
      seen(k);
      return Reflect.deleteProperty(t, k);
    },
  });
}
