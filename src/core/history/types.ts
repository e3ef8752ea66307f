/**
 * The audit log (issue 18 "History"): one entry per connect, refresh, transition, disconnect, invite created /
 * used and notification sent, kept next to the token store (a JSON-lines file beside the file store,
 * core/history/file-history.ts; the `box_qc_history` table in PostgreSQL, core/history/pg-history.ts) and
 * opened by the same opener (core/store/open.ts), which fills in the process facts (host, pid, OS user,
 * command). Read by `box-qc history` and `status --email`.
 *
 * Never a token, code, secret or invite token in an entry: `detail` is text box-qc wrote itself (an error code,
 * a reason, a count), never a raw Box body. append() runs AFTER the save it reports committed and never throws,
 * so the log can never fail or endanger a token save (a full disk costs the line and one warning).
 */

/** Event names in use. Others' events (notify, invite) take their name from here so `history` can filter on them. */
export const HISTORY_EVENTS = [
  'connect',
  'refresh',
  'disconnect',
  /** issue 18 notify: a state change recorded in the store (detail: "healthy -> dead"). */
  'transition',
  /** issue 18 notify: the notify command / webhook ran (outcome: ok | failed). */
  'notification',
  /** issue 17: an invite link was created / used. */
  'invite.created',
  'invite.used',
] as const;
export type HistoryEvent = (typeof HISTORY_EVENTS)[number];

export interface HistoryEntry {
  /** ISO-8601 UTC with `Z`, the store's clock (Deps.now). */
  time: string;
  /** One of HISTORY_EVENTS (a reader keeps unknown names from newer versions). */
  event: string;
  email?: string;
  host: string;
  pid: number;
  os_user: string;
  /** The box-qc subcommand (`refresh`, `store init`), or `library` for an in-process caller. */
  command: string;
  /** What happened: connect connected|reconnected; refresh refreshed|dead|temporary|failed; disconnect revoked|... */
  outcome: string;
  /** What Box answered with (BOX-REQUEST-ID header or the error body's request_id), for Box support. */
  box_request_id?: string;
  /** Safe text written by box-qc (an error code, a reason): never a token or a raw Box body. */
  detail?: string;
}

/** What a caller appends: the process facts are the log's own (the opener gave them). */
export type HistoryInput = Omit<HistoryEntry, 'time' | 'host' | 'pid' | 'os_user' | 'command'> & { time?: string };

export interface HistoryFilter {
  /** Normalised email (lower case). */
  email?: string;
  /** Only entries at or after this time (ms since the epoch). */
  sinceMs?: number;
  /** Only the newest N (after the other filters). */
  limit?: number;
}

export interface HistoryLog {
  /**
   * Appends one entry, in call order. Never throws; a failure costs the entry and at most one warning per
   * process. Resolves when written; callers on the refresh path do not wait for that (record.ts).
   */
  append(entry: HistoryInput): Promise<void>;
  /** Matching entries, oldest first (newest last). Throws StoreError (exit 2) when the log cannot be read. */
  read(filter: HistoryFilter): Promise<HistoryEntry[]>;
  /** Resolves when no append is in flight; the store's close() waits for it, bounded (HISTORY_FLUSH_MS). */
  idle(): Promise<void>;
}

/**
 * How long a store's close() waits for history lines still being written (ms): the log must never hold a
 * command's exit (or a cron slot) hostage to a slow disk or a locked table (review of issue 18, finding 1).
 */
export const HISTORY_FLUSH_MS = 2_000;

/** Waits for the log's appends in flight, at most HISTORY_FLUSH_MS; never throws. */
export async function flushHistory(log: HistoryLog | undefined, boundMs = HISTORY_FLUSH_MS): Promise<void> {
  if (!log) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, boundMs);
    timer.unref?.();
  });
  try {
    await Promise.race([log.idle().catch(() => undefined), bound]);
  } finally {
    clearTimeout(timer);
  }
}

/** The process facts every entry carries, given by the opener (src/store-host.ts reads them from `process`). */
export interface HistoryFacts {
  host: string;
  pid: number;
  os_user: string;
  command: string;
}
