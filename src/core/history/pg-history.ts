/**
 * The PostgreSQL store's audit log (issue 18): the `box_qc_history` table, created with the store's schema
 * (postgres/sql.ts createSchema; index on (email, time)), one row per entry, written on the store's own pool
 * after the save it reports committed. Ordered by time, then id (hosts sharing a database keep their clocks
 * within seconds of each other: ARCHITECTURE.md).
 *
 * No row cap: a row is ~200 bytes, a cron every 10 minutes over 100 users that refreshes hourly writes ~2,400
 * rows a day. Operators prune as they see fit (README "Monitoring"), e.g.
 *   DELETE FROM box_qc_history WHERE time < now() - interval '180 days';
 */
import { HISTORY_TABLE } from '../store/postgres/sql.js';
import { buildEntry, narrowEntry } from './entry.js';
import type { HistoryEntry, HistoryFacts, HistoryFilter, HistoryInput, HistoryLog } from './types.js';

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
  const pending = new Set<Promise<void>>();
  let warned = false;
  const insert = async (input: HistoryInput): Promise<void> => {
    try {
      const e = buildEntry(input, options.facts, now);
      await query(
        `INSERT INTO ${HISTORY_TABLE} (time, event, email, host, pid, os_user, command, outcome, box_request_id, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          e.time,
          e.event,
          e.email ?? null,
          e.host,
          e.pid,
          e.os_user,
          e.command,
          e.outcome,
          e.box_request_id ?? null,
          e.detail ?? null,
        ],
      );
    } catch (err) {
      if (warned) return;
      warned = true;
      try {
        options.onWarning?.(
          `could not write to the history table ${HISTORY_TABLE} of ${location} (${err instanceof Error ? err.message : 'error'}); the command itself is not affected`,
        );
      } catch {
        // best effort
      }
    }
  };
  return {
    append(input) {
      const p = insert(input);
      pending.add(p);
      return p.finally(() => pending.delete(p));
    },
    async read(filter: HistoryFilter): Promise<HistoryEntry[]> {
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
      await Promise.allSettled([...pending]);
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
