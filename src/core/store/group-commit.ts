/**
 * The pure parts of group commit (file-store.ts): applying a batch of mutations so that one that throws is
 * undone alone, and sharing one lock wait between the batch's callers.
 */
import { changedInviteProblem, validateDocument, validateUser } from './format.js';
import { writeView } from './write-view.js';
import { copyDocument, deepFreeze } from './document-copy.js';
import { BoxQcError, ExitCode, StoreError } from '../../errors.js';
import { checkStorableField, checkStorableRecord } from './storable.js';
import type { StoreDocument, UpdateOptions } from './types.js';

export interface PendingUpdate {
  mutate(doc: StoreDocument): unknown;
  resolve(value: unknown): void;
  reject(err: unknown): void;
  options: UpdateOptions | undefined;
}

/**
 * A mutation must leave a document the backend can read. If not, that is a bug in box-qc, not a bad file.
 * Validates the document itself, not a parse of its serialisation: re-parsing 0.5 MB on every commit was a
 * fifth of a 1,000-user `refresh --all` (issue 8). update()'s contract keeps the two the same: mutations leave
 * JSON data only (document.ts deletes fields rather than setting them undefined), so the file store can cache
 * the returned document as what a re-read of the written bytes gives.
 */
export function checkWritable(doc: StoreDocument, location: string): StoreDocument {
  try {
    return validateDocument(doc, location);
  } catch (err) {
    throw new Error(`internal error: refusing to save an invalid token store document (${(err as Error).message})`, {
      cause: err,
    });
  }
}

/**
 * checkWritable for a commit that changed only the records `changed` names (and the invites `changedInvites`
 * names), each replaced by a new object, of a document validated whole (the file store's splice, file-store.ts):
 * those records are validated, the rest are the validated ones. Each checked record in `doc.users` is replaced
 * by its validated form (validateUser drops null bookkeeping objects, as a re-read would). Returns `doc`, whose
 * users map must be the caller's own.
 */
export function checkWritableChanged(
  doc: StoreDocument,
  changed: Iterable<string>,
  location: string,
  changedInvites: ReadonlyMap<string, number> = new Map(),
): StoreDocument {
  const fail = (what: string) =>
    new Error(`internal error: refusing to save an invalid token store document (${what})`);
  for (const key of changed) doc.users[key] = validateUser(doc.users[key], key, location, fail);
  // The invite records it rewrote (hash -> number in the map, from 1), as validateDocument checks each.
  for (const [hash, n] of changedInvites) {
    const problem = changedInviteProblem(n, hash, doc.invites?.[hash]);
    if (problem !== undefined) throw fail(problem);
  }
  return doc;
}

/**
 * Queues update() calls and hands them to `commit` in batches: calls that arrive while a commit is running
 * are committed together next (group commit), so 1,000 concurrent saves cost a handful of locked writes.
 * A commit that throws is retried item by item before anyone is rejected (drain). Shared by the file and
 * PostgreSQL stores.
 */
export class UpdateQueue {
  private pending: PendingUpdate[] = [];
  private draining: Promise<void> | undefined;

  constructor(private readonly commit: (batch: PendingUpdate[]) => Promise<void>) {}

  enqueue<T>(mutate: (doc: StoreDocument) => T, options: UpdateOptions | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ mutate, resolve, reject, options });
      this.kick();
    });
  }

  /**
   * Starts a drain unless one runs. Its end looks at the queue again: a caller settled by the last commit
   * can enqueue before the drain's finally has run (draining still set, loop already left), and that item
   * would wait forever (seen with 32 markers in one batch and then a save).
   */
  private kick(): void {
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
      if (this.pending.length > 0) this.kick();
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
        if (batch.length === 1 || !worthSplitting(err, batch)) {
          for (const item of batch) item.reject(err);
          continue;
        }
        // The write itself failed (a value the database refused that the checks did not foresee, say):
        // each item gets a commit of its own before any is rejected, so one bad item cannot take the
        // others' rotations with it (issue 15 review finding 2).
        for (const item of batch) {
          await this.commit([item]).catch((e: unknown) => item.reject(e));
        }
      }
    }
  }
}

/**
 * Whether a failed batch is worth committing item by item. Not when every item would fail the same way after
 * the same wait: a busy lock (its wait already ran out), a temporary failure (a connection already retried
 * for seconds), the callers' own abort, a store that cannot be read or trusted (StoreError, exit 2).
 */
function worthSplitting(err: unknown, batch: PendingUpdate[]): boolean {
  if (batch.every((b) => b.options?.signal?.aborted)) return false;
  // A row lock wait that ran out (PostgreSQL 55P03 in a one-user commit: one user's row is held elsewhere) is
  // that user's, not the batch's: the others' rows may be free, so each item gets a commit of its own (review
  // of issue 20's fan-out: a set-aside fenced pair batched with a blocked user was dropped).
  if (err instanceof BoxQcError && err.code === 'E_STORE_BUSY' && err.details?.sqlstate_or_errno === '55P03')
    return true;
  if (err instanceof BoxQcError) return err.exitCode !== ExitCode.TEMPFAIL && err.exitCode !== ExitCode.USAGE;
  return !(err instanceof Error && err.name === 'AbortError');
}

/** What the backend can store (storable.ts): `jsonb` for PostgreSQL's stricter strings. */
export interface StoreRules {
  location: string;
  jsonb: boolean;
  /**
   * `doc` may be an unfrozen document that nothing else changes (the file store's cached, validated document,
   * parsed-cache.ts): it is used as it is, its top-level fields frozen here and each of its records frozen when
   * a mutation first reads it, instead of a frozen deep copy, or a freeze of all 10,000 records a one-user
   * commit never looks at (issue 20).
   */
  freezeOnRead?: boolean;
}

export type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * What a batch's mutations did, as its write view saw it: the user keys set, defined or deleted, and whether
 * anything changed beyond replacing records of existing keys in place (a key deleted, even if set again: it
 * moves to the end; the users map swapped; a top-level field changed). A key set that `base` lacks is an
 * addition: the caller sees that from `base`.
 */
export interface BatchChanges {
  keys: Set<string>;
  reshaped: boolean;
  /** A user key deleted or the users map swapped (part of `reshaped`). */
  usersReshaped: boolean;
  /**
   * The top-level fields but `users` a mutation replaced or edited in place (the rest of `reshaped`): the file
   * store splices a changed `invites` map record by record when its keys are as they were (file-store.ts).
   */
  fields: Set<string>;
}

/**
 * Applies the batch's mutations in order to a copy of `doc`, which is never changed (it may be the cached
 * snapshot other readers share, and the PostgreSQL store diffs against it). The copy is shallow: a new users
 * map over the same, frozen records, so copying costs a map of keys, not the whole document (with 1,000 users,
 * deep copies per update were the largest cost of `refresh --all`, issue 8). A mutation therefore replaces a
 * record it changes, as document.ts does; changing a shared record in place throws a TypeError (ES modules are
 * strict), failing that mutation loudly. `base` is the document the mutations ran on (`doc`, or a frozen copy of
 * it): the records a batch left alone are the very objects in it. A mutation that throws is undone alone: the
 * others run again on a fresh copy without it. So is one that leaves a record this backend cannot store
 * (storable.ts: an expiry past year 9999; on PostgreSQL a NUL in a token; issue 15 review finding 2): each
 * item's changed records are checked right after it ran, inside its own try, so one bad save never fails the
 * others' rotations.
 */
export function applyBatch(
  doc: StoreDocument,
  batch: PendingUpdate[],
  rules: StoreRules = { location: '', jsonb: false },
): { doc: StoreDocument; outcomes: Outcome[]; base: StoreDocument; changes: BatchChanges } {
  const lazy = rules.freezeOnRead === true && !Object.isFrozen(doc);
  const base = Object.isFrozen(doc) || lazy ? doc : deepFreeze(copyDocument(doc));
  if (lazy) for (const field of Object.keys(base)) if (field !== 'users') deepFreeze(base[field]);
  // A record of `base` is frozen before a mutation can hold it: the same guarantee as a frozen base.
  const baseUsers = base.users;
  const freezeBaseRecord = lazy
    ? (value: unknown, key: string) => {
        // Own records only: `d.users.__proto__` is Object.prototype, which must never be frozen (review finding 3).
        if (typeof value === 'object' && value !== null && Object.hasOwn(baseUsers, key) && value === baseUsers[key])
          deepFreeze(value);
      }
    : undefined;
  const outcomes = new Array<Outcome>(batch.length);
  const skip = new Set<number>();
  for (;;) {
    const users = { ...base.users };
    const working: StoreDocument = { ...base, users };
    const changes: BatchChanges = { keys: new Set(), reshaped: false, usersReshaped: false, fields: new Set() };
    let failed = false;
    for (let i = 0; i < batch.length && !failed; i++) {
      if (skip.has(i)) continue;
      const item = batch[i]!;
      if (item.options?.signal?.aborted) {
        outcomes[i] = { ok: false, error: item.options.signal.reason };
        skip.add(i);
        continue;
      }
      try {
        outcomes[i] = { ok: true, value: runChecked(item, working, users, rules, freezeBaseRecord, changes) };
      } catch (error) {
        outcomes[i] = { ok: false, error };
        skip.add(i);
        failed = true;
      }
    }
    if (rules.freezeOnRead !== true) {
      if (failed) continue;
      return { doc: freezeTopLevel(working), outcomes, base, changes };
    }
    // The result is never the object the mutations were given, and every pass's `d` (a failed pass's too) is
    // retired: one that kept `d` could otherwise change the cached document after the commit (reviews 1 and 2).
    // Through `d`, records still read frozen and no write reaches anything; the caller freezes the result's
    // users map (parsed-cache.ts).
    working.users = writeView(
      users,
      () => {
        throw new TypeError('a store document was changed after its update() returned');
      },
      { onRead: freezeBaseRecord },
    );
    if (failed) continue;
    return { doc: freezeTopLevel({ ...working, users }), outcomes, base, changes };
  }
}

/**
 * The result's top-level fields frozen (not `users`, which the caller freezes or diffs): a field a mutation
 * edited in place, in a copy it made during this batch (invites.ts writableInvites), can no longer be changed
 * through a `d` kept past its update(). Fields read from the base are frozen already: each costs one check.
 */
function freezeTopLevel(doc: StoreDocument): StoreDocument {
  for (const field of Object.keys(doc)) if (field !== 'users') deepFreeze(doc[field]);
  return doc;
}

/**
 * Runs one mutation on a view of `working` that records which user keys it set or deleted, then checks
 * those records (and any top-level field it changed). Only what this item changed is checked: the rest was
 * read from the store or checked when an earlier item wrote it.
 */
function runChecked(
  item: PendingUpdate,
  working: StoreDocument,
  users: StoreDocument['users'],
  rules: StoreRules,
  onRead: ((value: unknown, key: string) => void) | undefined,
  changes: BatchChanges,
): unknown {
  const touched = new Set<string>();
  const view = writeView(users, (k) => touched.add(k), {
    onRead,
    onDelete: () => {
      changes.reshaped = true;
      changes.usersReshaped = true;
    },
  });
  const top = { ...working };
  // What the top-level fields made earlier in this pass (unfrozen) hold before this item: on PostgreSQL, an
  // item that edits one in place has only the entries it changed checked, not the whole map (review 11b).
  const before = rules.jsonb ? entriesOfMade(top) : undefined;
  working.users = view;
  let value: unknown;
  try {
    value = item.mutate(working);
  } finally {
    const replaced = working.users !== view;
    if (replaced) {
      changes.reshaped = true;
      changes.usersReshaped = true;
      // The mutation swapped the whole map: adopt its content, every key of it checked.
      const next = working.users;
      for (const k of Object.keys(users)) if (!Object.hasOwn(next, k)) touched.add(k);
      for (const k of Object.keys(users)) delete users[k];
      for (const k of Object.keys(next)) {
        touched.add(k);
        users[k] = next[k]!;
      }
    }
    working.users = users;
  }
  const { location, jsonb } = rules;
  for (const k of touched) {
    changes.keys.add(k);
    if (Object.hasOwn(users, k)) checkStorableRecord(users[k], k, location, jsonb);
  }
  for (const k of new Set([...Object.keys(top), ...Object.keys(working)])) {
    if (k === 'users') continue;
    // The base's fields are frozen: an unfrozen one was made in this pass, and this item may have edited it in
    // place (invites.ts writableInvites edits one copy per batch), so it is checked as if replaced (review 11a).
    const made = typeof working[k] === 'object' && working[k] !== null && !Object.isFrozen(working[k]);
    if (top[k] === working[k] && !made) continue;
    changes.reshaped = true;
    changes.fields.add(k);
    if (k === 'version' && working.version !== 1)
      throw new StoreError('E_STORE_UNSTORABLE', location, `refusing to save the store: version must stay 1`);
    const held = top[k] === working[k] ? before?.get(k) : undefined;
    if (held === undefined) checkStorableField(k, working[k], location, jsonb);
    else {
      const now = working[k] as Record<string, unknown>;
      for (const e of Object.keys(now))
        if (now[e] !== held.get(e)) checkStorableField(k, { [e]: now[e] }, location, jsonb);
    }
  }
  return value;
}

/** The own entries of each unfrozen top-level object field but `users` (shallow: values by identity). */
function entriesOfMade(doc: StoreDocument): Map<string, Map<string, unknown>> {
  const out = new Map<string, Map<string, unknown>>();
  for (const k of Object.keys(doc)) {
    const v = doc[k];
    if (k === 'users' || typeof v !== 'object' || v === null || Object.isFrozen(v)) continue;
    const entries = new Map<string, unknown>();
    for (const e of Object.keys(v)) entries.set(e, (v as Record<string, unknown>)[e]);
    out.set(k, entries);
  }
  return out;
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
