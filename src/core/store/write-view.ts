/**
 * A view of a users map that reports every key a mutation sets, defines or deletes (set, delete,
 * Object.assign and defineProperty all end in one of these traps; reads pass straight through, to `onRead` when
 * given). Group commit
 * checks only the records an update touched (group-commit.ts); the encryption wrapper seals only those
 * (crypto/crypto-store.ts).
 */
export function writeView<T extends object>(
  target: T,
  note: (key: string) => void,
  hooks: { onRead?: (value: unknown, key: string) => void; onDelete?: (key: string) => void } = {},
): T {
  const { onRead, onDelete } = hooks;
  const seen = (k: string | symbol) => {
    if (typeof k === 'string') note(k);
  };
  // Every way to a value goes through one of these two ([[Get]]: reads, spread, Object.values/entries,
  // JSON.stringify; [[GetOwnProperty]]: Object.getOwnPropertyDescriptor(s)).
  const reads: ProxyHandler<T> = onRead
    ? {
        get(t, k, receiver) {
          const v = Reflect.get(t, k, receiver) as unknown;
          if (typeof k === 'string') onRead(v, k);
          return v;
        },
        getOwnPropertyDescriptor(t, k) {
          const d = Reflect.getOwnPropertyDescriptor(t, k);
          if (d !== undefined && typeof k === 'string') onRead(d.value, k);
          return d;
        },
      }
    : {};
  return new Proxy(target, {
    ...reads,
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
      if (typeof k === 'string') onDelete?.(k);
      return Reflect.deleteProperty(t, k);
    },
  });
}
