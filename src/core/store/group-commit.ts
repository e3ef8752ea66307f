/**
 * The pure parts of group commit (file-store.ts): applying a batch of mutations so that one that throws is
 * undone alone, and sharing one lock wait between the batch's callers.
 */
import { validateDocument } from './format.js';
import type { LockOptions, StoreDocument } from './types.js';

export interface PendingUpdate {
  mutate(doc: StoreDocument): unknown;
  resolve(value: unknown): void;
  reject(err: unknown): void;
  options: LockOptions | undefined;
}

/**
 * A mutation must leave a document the backend can read. If not, that is a bug in box-qc, not a bad file.
 * Returns the document read back from `bytes` (what a re-read of the saved file gives: the file store caches it).
 */
export function checkWritable(bytes: Buffer, location: string): StoreDocument {
  try {
    return validateDocument(JSON.parse(bytes.toString('utf8')), location);
  } catch (err) {
    throw new Error(`internal error: refusing to save an invalid token store document (${(err as Error).message})`, { cause: err });
  }
}

/**
 * Queues update() calls and hands them to `commit` in batches: calls that arrive while a commit is running
 * are committed together next (group commit), so 1,000 concurrent saves cost a handful of locked writes.
 * A commit that throws rejects its whole batch. Shared by the file and PostgreSQL stores.
 */
export class UpdateQueue {
  private pending: PendingUpdate[] = [];
  private draining: Promise<void> | undefined;

  constructor(private readonly commit: (batch: PendingUpdate[]) => Promise<void>) {}

  enqueue<T>(mutate: (doc: StoreDocument) => T, options: LockOptions | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ mutate, resolve: resolve as (v: unknown) => void, reject, options });
      this.draining ??= this.drain().finally(() => (this.draining = undefined));
    });
  }

  /** Resolves once every queued update has settled. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining.catch(() => {});
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0);
      try {
        await this.commit(batch);
      } catch (err) {
        for (const item of batch) item.reject(err);
      }
    }
  }
}

export type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Applies each mutation to its own copy, adopting it only if mutate returned: a throw undoes that one alone. */
export function applyBatch(doc: StoreDocument, batch: PendingUpdate[]): { doc: StoreDocument; outcomes: Outcome[] } {
  let working = doc;
  const outcomes: Outcome[] = [];
  for (const item of batch) {
    if (item.options?.signal?.aborted) {
      outcomes.push({ ok: false, error: item.options.signal.reason });
      continue;
    }
    const trial = shallowCopy(working);
    try {
      outcomes.push({ ok: true, value: item.mutate(trial) });
      working = trial;
    } catch (error) {
      outcomes.push({ ok: false, error });
    }
  }
  return { doc: working, outcomes };
}

/** Copies the levels group commit needs to undo a failed mutation: the document, the users map, each record. */
function shallowCopy(doc: StoreDocument): StoreDocument {
  const users: StoreDocument['users'] = {};
  const from = doc.users;
  // Object.keys + index, not Object.entries: measurably cheaper on a 1,000-key map, copied once per update.
  for (const k of Object.keys(from)) users[k] = { ...from[k]! };
  return { ...doc, users };
}

/**
 * Aborts the shared lock wait only when every caller in the batch has given up. Returns a dispose function:
 * listeners must not pile up on a signal shared by 1,000 updates (Node warns about EventTarget leaks).
 */
export function batchSignal(batch: PendingUpdate[]): { signal: AbortSignal | undefined; dispose(): void } {
  const signals = batch.map((b) => b.options?.signal);
  const unique = new Set(signals);
  if (unique.has(undefined)) return { signal: undefined, dispose() {} };
  if (unique.size === 1) return { signal: signals[0], dispose() {} };
  const ctl = new AbortController();
  const check = () => {
    if (signals.every((s) => s!.aborted)) ctl.abort(signals[0]!.reason);
  };
  for (const s of unique) s!.addEventListener('abort', check);
  check();
  return { signal: ctl.signal, dispose: () => unique.forEach((s) => s!.removeEventListener('abort', check)) };
}

