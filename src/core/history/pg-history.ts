/**
 * The PostgreSQL store's audit log (issue 18): the `box_qc_history` table, created with the store's schema
 * (postgres/sql.ts createSchema; index on (email, time)), one row per entry, written on the store's own pool
 * after the save it reports committed; entries queued while an INSERT runs go together in the next one. Ordered by time, then id (hosts sharing a database keep their clocks
 * within seconds of each other: ARCHITECTURE.md).
 *
 * No row cap: a row is ~200 bytes, a cron every 10 minutes over 100 users that refreshes hourly writes ~2,400
 * rows a day. Operators prune as they see fit (README "Monitoring"), e.g.
 *   DELETE FROM box_qc_history WHERE time < now() - interval '180 days';
 */
import { HISTORY_TABLE } from '../store/postgres/sql.js';
import { buildEntry, narrowEntry } from './entry.js';
import type { HistoryEntry, HistoryFacts, HistoryFilter, HistoryLog } from './types.js';

/** What the store lends the log: one statement on a pooled connection, the schema ensured first. */
export type HistoryQuery = (sql: string, params: unknown[]) => Promise<Array<Record<string, unknown>>>;

export interface PgHistoryOptions {
  facts: HistoryFacts;
  now?: () => number;
  onWarning?: (line: string) => void;
}

export interface PgHistoryLog extends HistoryLog {
  /** Resolves when no append is in flight (the store's close() waits for it before ending its pools). */
  idle(): Promise<void>;
}

export function openPgHistory(query: HistoryQuery, location: string, options: PgHistoryOptions): PgHistoryLog {
  const now = options.now ?? Date.now;
  let queue: Array<{ entry: HistoryEntry; done: () => void }> = [];
  let flushing: Promise<void> | undefined;
  let warned = false;
  const warn = (err: unknown) => {
    if (warned) return;
    warned = true;
    try {
      options.onWarning?.(
        `could not write to the history table ${HISTORY_TABLE} of ${location} (${err instanceof Error ? err.message : 'error'}); the command itself is not affected`,
      );
    } catch {
      // best effort
    }
  };
  // One INSERT for everything queued meanwhile, one connection at a time: `refresh --all` over many users
  // must not take the main pool's two connections away from the saves (core/store/postgres/pools.ts).
  const flush = async (): Promise<void> => {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      const col = <K extends keyof HistoryEntry>(k: K) => batch.map(({ entry }) => entry[k] ?? null);
      try {
        await query(
          `INSERT INTO ${HISTORY_TABLE} (time, event, email, host, pid, os_user, command, outcome, box_request_id, detail)
           SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::text[],
                                $7::text[], $8::text[], $9::text[], $10::text[])`,
          [
            col('time'),
            col('event'),
            col('email'),
            col('host'),
            col('pid'),
            col('os_user'),
            col('command'),
            col('outcome'),
            col('box_request_id'),
            col('detail'),
          ],
        );
      } catch (err) {
        warn(err);
      }
      for (const { done } of batch) done();
    }
  };
  const kick = (): void => {
    flushing ??= flush().finally(() => {
      flushing = undefined;
      // An append that arrived after the last batch was taken, but before this callback ran.
      if (queue.length > 0) kick();
    });
  };
  return {
    append(input) {
      let entry: HistoryEntry;
      try {
        entry = buildEntry(input, options.facts, now);
      } catch (err) {
        warn(err);
        return Promise.resolve();
      }
      const written = new Promise<void>((resolve) => queue.push({ entry, done: resolve }));
      kick();
      return written;
    },
    async read(filter: HistoryFilter): Promise<HistoryEntry[]> {
      // Read your own writes: rows this process queued (recordHistory does not wait) are inserted first.
      while (flushing) await flushing;
      const rows = await query(
        `SELECT time, event, email, host, pid, os_user, command, outcome, box_request_id, detail FROM ${HISTORY_TABLE}
          WHERE ($1::text IS NULL OR email = $1) AND ($2::timestamptz IS NULL OR time >= $2)
          ORDER BY time DESC, id DESC LIMIT $3`,
        [
          filter.email ?? null,
          filter.sinceMs !== undefined ? new Date(filter.sinceMs).toISOString() : null,
          filter.limit ?? null,
        ],
      );
      const entries: HistoryEntry[] = [];
      for (const row of rows.reverse()) {
        const e = narrowEntry(fromRow(row));
        if (e) entries.push(e);
      }
      return entries;
    },
    async idle() {
      while (flushing) await flushing;
    },
  };
}

/** A row as an entry's plain object: timestamptz arrives as a Date, NULL columns are left out. */
function fromRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (v === null || v === undefined) continue;
    out[k] = v instanceof Date ? v.toISOString() : v;
  }
  return out;
}
