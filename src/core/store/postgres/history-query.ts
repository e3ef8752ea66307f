/**
 * The statements of the PostgreSQL store's audit log (issue 18, core/history/pg-history.ts), run on the store's
 * pool. An INSERT runs in a transaction with short lock and statement timeouts of its own, so a locked or slow
 * history table (a VACUUM FULL, a TRUNCATE left open) costs the line, never a connection for long (review of
 * issue 18, finding 1).
 *
 * Issue 20: `refresh --all` over 10,000 users flushes the log thousands of times, so that transaction is sent as
 * ONE message: BEGIN; the two SET LOCALs; the INSERT; COMMIT (one round trip instead of five). The server runs
 * them in order and skips the rest at the first error (the transaction then stays aborted: ROLLBACK below),
 * so the timeouts are set before the INSERT asks for its table lock, as before. That message takes no
 * parameters: the INSERT's values, arrays of strings, numbers and nulls (what pg-history sends), are written as
 * literals by the driver's escapeLiteral. Anything else is sent statement by statement, as before.
 */
import type { PoolClient, QueryResult } from 'pg';

const BEGIN = "BEGIN; SET LOCAL lock_timeout = '2s'; SET LOCAL statement_timeout = '5s'";

type Row = Record<string, unknown>;

export async function historyQuery(c: PoolClient, sql: string, params: unknown[]): Promise<Row[]> {
  if (!/^\s*INSERT\b/i.test(sql)) return (await c.query<Row>(sql, params)).rows;
  const inlined = inlineArrays(sql, params, (v) => c.escapeLiteral(v));
  try {
    if (inlined !== undefined) {
      const results = (await c.query(`${BEGIN};\n${inlined};\nCOMMIT`)) as unknown as Array<QueryResult<Row>>;
      return Array.isArray(results) ? (results[3]?.rows ?? []) : [];
    }
    await c.query(BEGIN);
    const rows = (await c.query<Row>(sql, params)).rows;
    await c.query('COMMIT');
    return rows;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

const plain = (v: unknown): v is string | number | null =>
  v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));

/**
 * `sql` with each `$n` replaced by parameter n as an ARRAY[...] of literals (its cast, e.g. `$1::text[]`, stays
 * in the text); undefined when a parameter is not an array of plain values, a `$n` has no parameter, or the
 * statement has a quoted part of its own (where a `$n` must not be touched).
 */
export function inlineArrays(sql: string, params: unknown[], literal: (v: string) => string): string | undefined {
  if (/['"]|\$\$/.test(sql)) return undefined;
  const values: string[] = [];
  for (const p of params) {
    if (!Array.isArray(p) || !p.every(plain)) return undefined;
    values.push(
      p.length === 0 ? "'{}'" : `ARRAY[${p.map((v) => (v === null ? 'NULL' : literal(String(v)))).join(', ')}]`,
    );
  }
  let missing = false;
  const out = sql.replace(/\$(\d+)/g, (_, n: string) => {
    const v = values[Number(n) - 1];
    if (v === undefined) missing = true;
    return v ?? '';
  });
  return missing ? undefined : out;
}
