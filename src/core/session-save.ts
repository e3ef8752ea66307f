/**
 * The save right after a refresh POST (issue 6 step 4, reliability.md F6; issue 15, REVIEW-1 finding 1): Box
 * has already rotated, so the old refresh token may be dead and this pair is the user's only way back. A
 * failed write is therefore retried whatever the failure (a full disk freed, a busy store lock, a corrupt
 * read, a PostgreSQL connection re-established: store.update re-reads and reconnects on every attempt) for
 * a time budget (60 s by default, Session.saveBudgetMs), not a fixed count: giving up loses the user.
 *
 * Only a fenced-out save is final at once: the record changed under us and writing again cannot be right
 * (FencedSaveError, handled by session-failures.ts). Anything else that outlives the budget becomes
 * RotationNotSavedError: exit 1, the in-flight marker stays (the next run replays once and then knows), and
 * the message says the connection may be lost.
 *
 * No rescue file (the pair written beside the store for the next run): it would be a second source of truth
 * to merge, fenced, under the user lock; it fails exactly when the store folder does (full disk, read-only or
 * unwritable folder), does not exist for PostgreSQL, and would put tokens in a file the store's own checks
 * (modes, orphan-temp reaping) know nothing of. The budget covers what is transient; the marker covers the rest.
 * Re-checked for REVIEW-2 #7 (another writer leaves the store invalid during the POST, so every attempt is
 * refused alike): a rescue file would help only there, where the backend writing the store is itself broken,
 * and the 60 s of retries re-read the store each time, so a writer that repairs it quickly still gets our
 * pair saved. Still no: instead that error says exactly which repair and which two commands recover the user.
 */
import { BoxQcError, ExitCode, StoreError } from '../errors.js';
import { FencedSaveError, getUser } from './store/document.js';
import type { StoredUser, TokenStore } from './store/types.js';
import { revealToken } from './store/crypto/reveal.js';
import { onlyUser, readUser } from './store/scoped.js';

export const DEFAULT_SAVE_BUDGET_MS = 60_000;
const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 2_000;

/** Box rotated the refresh token and the new pair could not be saved within the budget (REVIEW-1 finding 1). */
export class RotationNotSavedError extends BoxQcError {
  constructor(email: string, cause: unknown, attempts: number) {
    const why = cause instanceof Error ? cause.message : String(cause);
    const refused = refusedByContent(cause);
    const what = refused
      ? 'the store refused the new pair on every attempt: it was changed during this refresh to something box-qc cannot use'
      : `the new pair could not be saved after ${attempts} attempts`;
    super(
      'E_ROTATION_NOT_SAVED',
      `${email}: Box rotated the refresh token but ${what} (${why}): the connection may be lost`,
      ExitCode.FAILED,
      {
        cause,
        hint: refused
          ? `repair or restore the store as the error says (or stop the other writer that changed it); the pair Box just sent is gone. Then run \`box-qc refresh --email ${email}\` once (it tries the previous refresh token); if it says ${email} must reconnect, run \`box-qc connect --email ${email}\``
          : `fix the store (space, lock, database) and run \`box-qc refresh --email ${email}\`: it retries that refresh once; if ${email} then needs to reconnect, run \`box-qc connect --email ${email}\``,
      },
    );
  }
}

/**
 * The store's content, not its medium, refused the save (REVIEW-2 #7): another writer left it corrupt or
 * invalid, or PostgreSQL's generation guard holds a newer record. Retrying cannot help; only a repair can.
 */
function refusedByContent(cause: unknown): boolean {
  return cause instanceof StoreError || (cause instanceof BoxQcError && cause.code === 'E_STORE_NEWER');
}

export interface SaveRetryOptions {
  email: string;
  /** Time budget for all attempts (ms); an attempt is started only while it lasts. */
  budgetMs?: number;
  onRetry: (err: unknown, attempt: number) => void;
  /**
   * The stored record when it already holds the pair being saved, else undefined. Asked when a save is fenced
   * out: an earlier attempt whose commit went through but whose acknowledgement was lost (a connection cut
   * after COMMIT) fences the retry out with our own pair, which is a success, not a conflict.
   */
  alreadySaved?: () => Promise<StoredUser | undefined>;
}

export async function saveWithRetry(
  store: TokenStore,
  mutate: Parameters<TokenStore['update']>[0],
  options: SaveRetryOptions,
): Promise<StoredUser> {
  // A monotonic clock: a wall-clock step must neither cut the budget short nor stretch it.
  const started = performance.now();
  const budget = options.budgetMs ?? DEFAULT_SAVE_BUDGET_MS;
  // Ends a store lock wait (or a reconnect loop) still running when the budget is spent: no single attempt
  // outlasts it. The store checks it only before it writes, never in the middle of a commit.
  const deadline = AbortSignal.timeout(Math.max(1, budget));
  let lastFailure: unknown;
  for (let attempt = 1; ; attempt++) {
    try {
      return (await store.update(mutate, onlyUser(options.email, { signal: deadline }))) as StoredUser;
    } catch (err) {
      if (err instanceof FencedSaveError) {
        const ours = await options.alreadySaved?.().catch(() => undefined);
        if (ours) return ours;
        throw err;
      }
      // The deadline's own reason says nothing useful: report what failed before it.
      if (!(deadline.aborted && err === deadline.reason)) lastFailure = err;
      const left = budget - (performance.now() - started);
      if (left <= 0 || deadline.aborted) {
        // The last attempt may have committed and lost only its acknowledgement.
        const ours = await options.alreadySaved?.().catch(() => undefined);
        if (ours) return ours;
        throw new RotationNotSavedError(
          options.email,
          lastFailure ?? new Error(`no attempt finished within ${budget} ms`),
          attempt,
        );
      }
      options.onRetry(err, attempt);
      // Not abortable: nothing may cut this short but the budget (a caller's abort is honoured after it).
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(FIRST_DELAY_MS * 2 ** (attempt - 1), MAX_DELAY_MS, left)),
      );
    }
  }
}

/** The stored record for `email` when it holds `refreshToken` (our own save, acknowledged or not). */
export async function storedWith(
  store: TokenStore,
  email: string,
  refreshToken: string,
): Promise<StoredUser | undefined> {
  const stored = getUser(await readUser(store, email), email);
  if (stored === undefined) return undefined;
  return (await revealToken(store, email, 'refresh_token', stored.refresh_token)) === refreshToken ? stored : undefined;
}
