/**
 * The PostgreSQL store's schema and statements (issue 9). One row per normalised email: the StoredUser
 * exactly as the file format holds it (jsonb, so unknown fields survive) plus `generation` and `updated_at`
 * copied out of it for the "never overwrite a newer row" guard and for operators' queries. The document's
 * top-level unknown fields live in a one-row side table, so file -> PostgreSQL -> file loses nothing.
 *
 * Locks are advisory, keyed by hashtextextended(text, 0) of a name that includes the table:
 *   `box-qc:<table>:user:<email>`  session-level, on a dedicated connection, across the Box call
 *   `box-qc:<table>:store`         transaction-level, for one read-modify-write (the file store's store lock)
 *   `box-qc:<table>:row:<email>`   transaction-level, for a read-modify-write of named users only (scoped.ts)
 *   `box-qc:<table>:schema`        transaction-level, around CREATE TABLE IF NOT EXISTS (which races otherwise)
 * A hash collision between two emails only makes those two users take turns.
 *
 * `box_qc_store.version` is bumped by a statement trigger on every change to the tokens table (box-qc's or
 * anyone's, even a hand-written UPDATE), so a process can keep the last document it loaded and check one
 * number instead of re-reading every row: `refresh --all` reads the store ~3 times per user.
 *
 * Invites (issue 17) have a table of their own, `box_qc_invites`: one row per token hash (never the token),
 * the InviteRecord in `record` (unknown fields kept) and its fields copied out for operators' queries and a
 * CHECK on the state. Loaded into `doc.invites` and written by writeChanges in the same transaction as the
 * user rows, so "save the pair and mark the invite used" is one update(). The same trigger bumps the version.
 */
import type { ClientBase } from 'pg';
import { parseTimestamp, validateDocument } from '../format.js';
import type { StoreDocument, StoredUser } from '../types.js';

export const TOKENS_TABLE = 'box_qc_tokens';
export const META_TABLE = 'box_qc_store';
export const INVITES_TABLE = 'box_qc_invites';
/** The audit log (issue 18, core/history/pg-history.ts): append-only, never read by the refresh protocol. */
export const HISTORY_TABLE = 'box_qc_history';
const VERSION_FUNCTION = 'box_qc_bump_version';
const VERSION_TRIGGER = 'box_qc_tokens_version';
const INVITES_TRIGGER = 'box_qc_invites_version';

export const lockName = {
  user: (email: string) => `box-qc:${TOKENS_TABLE}:user:${email}`,
  store: () => `box-qc:${TOKENS_TABLE}:store`,
  /** Transaction-level: a one-user transaction's stand-in for the store lock (postgres/scoped.ts, issue 20). */
  row: (email: string) => `box-qc:${TOKENS_TABLE}:row:${email}`,
  schema: () => `box-qc:${TOKENS_TABLE}:schema`,
};

const CREATE_SQL = [
  `CREATE TABLE IF NOT EXISTS ${TOKENS_TABLE} (
    email text PRIMARY KEY CHECK (email = lower(btrim(email)) AND position('@' in email) > 0),
    generation bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    record jsonb NOT NULL CHECK (jsonb_typeof(record) = 'object')
  )`,
  `CREATE TABLE IF NOT EXISTS ${META_TABLE} (
    id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    extra jsonb NOT NULL DEFAULT '{}'::jsonb,
    version bigint NOT NULL DEFAULT 0
  )`,
  `INSERT INTO ${META_TABLE} (id) VALUES (1) ON CONFLICT (id) DO NOTHING`,
  `CREATE OR REPLACE FUNCTION ${VERSION_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     UPDATE ${META_TABLE} SET version = version + 1 WHERE id = 1;
     RETURN NULL;
   END $$`,
  `CREATE TABLE IF NOT EXISTS ${HISTORY_TABLE} (
    id bigserial PRIMARY KEY,
    time timestamptz NOT NULL,
    event text NOT NULL,
    email text,
    host text NOT NULL,
    pid integer NOT NULL,
    os_user text NOT NULL,
    command text NOT NULL,
    outcome text NOT NULL,
    box_request_id text,
    detail text
  )`,
  `CREATE INDEX IF NOT EXISTS ${HISTORY_TABLE}_email_time ON ${HISTORY_TABLE} (email, time)`,
  `DROP TRIGGER IF EXISTS ${VERSION_TRIGGER} ON ${TOKENS_TABLE}`,
  `CREATE TRIGGER ${VERSION_TRIGGER} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${TOKENS_TABLE}
   FOR EACH STATEMENT EXECUTE FUNCTION ${VERSION_FUNCTION}()`,
  `CREATE TABLE IF NOT EXISTS ${INVITES_TABLE} (
    token_hash text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    email text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    state text NOT NULL CHECK (state IN ('pending', 'used', 'revoked')),
    used_at timestamptz,
    revoked_at timestamptz,
    record jsonb NOT NULL CHECK (jsonb_typeof(record) = 'object')
  )`,
  `DROP TRIGGER IF EXISTS ${INVITES_TRIGGER} ON ${INVITES_TABLE}`,
  `CREATE TRIGGER ${INVITES_TRIGGER} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${INVITES_TABLE}
   FOR EACH STATEMENT EXECUTE FUNCTION ${VERSION_FUNCTION}()`,
];

/**
 * True when every table and version trigger exists (cheap; no lock). A store made before issue 17 has no
 * invites table, one made before issue 18 no history table: the next first use creates them.
 */
export async function schemaExists(c: ClientBase): Promise<boolean> {
  const r = await c.query<{ ok: boolean }>(
    `SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AND to_regclass($4) IS NOT NULL
            AND to_regclass($6) IS NOT NULL
            AND EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = $3 AND tgrelid = to_regclass($1))
            AND EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = $5 AND tgrelid = to_regclass($4)) AS ok`,
    [TOKENS_TABLE, META_TABLE, VERSION_TRIGGER, INVITES_TABLE, INVITES_TRIGGER, HISTORY_TABLE],
  );
  return r.rows[0]?.ok === true;
}

/** Idempotent; concurrent first uses serialise on an advisory lock. Returns whether anything was created. */
export async function createSchema(c: ClientBase): Promise<boolean> {
  if (await schemaExists(c)) return false;
  await c.query('BEGIN');
  try {
    await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [lockName.schema()]);
    const existed = await schemaExists(c);
    for (const sql of CREATE_SQL) await c.query(sql);
    await c.query('COMMIT');
    return !existed;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/**
 * Whether a save could be written now: not a standby or read-only, and we may write the table. With the meta
 * row's top-level fields from the same statement (reserveWrite hands them on: types.ts WriteReservation).
 */
export async function serverAccepts(
  c: ClientBase,
): Promise<{ readOnly: boolean; mayWrite: boolean; extra: Record<string, unknown> | null }> {
  const r = await c.query<{ rec: boolean; ro: string; w: boolean; extra: Record<string, unknown> | null }>(
    `SELECT pg_is_in_recovery() AS rec, current_setting('transaction_read_only') AS ro,
            has_table_privilege($1, 'SELECT, INSERT, UPDATE, DELETE') AS w,
            (SELECT extra FROM ${META_TABLE} WHERE id = 1) AS extra`,
    [TOKENS_TABLE],
  );
  const row = r.rows[0];
  return { readOnly: row?.rec === true || row?.ro === 'on', mayWrite: row?.w === true, extra: row?.extra ?? null };
}

export interface Loaded {
  doc: StoreDocument;
  /** box_qc_store.version at the same snapshot (a bigint, as text). */
  version: string;
}

export async function storeVersion(c: ClientBase): Promise<string> {
  const r = await c.query<{ version: string }>(`SELECT version::text AS version FROM ${META_TABLE} WHERE id = 1`);
  return r.rows[0]?.version ?? '0';
}

/** The whole store as one StoreDocument, from one statement (one snapshot). Corrupt rows: StoreError. */
export async function loadDocument(c: ClientBase, location: string): Promise<Loaded> {
  const r = await c.query<{
    extra: Record<string, unknown> | null;
    version: string | null;
    users: Record<string, unknown> | null;
    invites: Record<string, unknown> | null;
  }>(
    `SELECT m.extra, m.version::text AS version, (SELECT jsonb_object_agg(email, record) FROM ${TOKENS_TABLE}) AS users,
            (SELECT jsonb_object_agg(token_hash, record) FROM ${INVITES_TABLE}) AS invites
       FROM (SELECT 1) AS one LEFT JOIN ${META_TABLE} m ON m.id = 1`,
  );
  const row = r.rows[0];
  const { invites: _stray, ...extra } = row?.extra ?? {};
  const invites = row?.invites ? { invites: row.invites } : {};
  const doc = validateDocument({ ...extra, version: 1, users: row?.users ?? {}, ...invites }, location);
  return { doc, version: row?.version ?? '0' };
}

function topLevelExtra(doc: StoreDocument): Record<string, unknown> {
  const { version: _v, users: _u, invites: _i, ...extra } = doc;
  return extra;
}

/** Invite rows changed between two documents, inside the caller's transaction (same rules as users). */
async function writeInvites(c: ClientBase, before: StoreDocument, after: StoreDocument): Promise<void> {
  const was = before.invites ?? {};
  const now = after.invites ?? {};
  const changed = Object.entries(now).filter(
    ([h, rec]) => !Object.hasOwn(was, h) || JSON.stringify(was[h]) !== JSON.stringify(rec),
  );
  const deleted = Object.keys(was).filter((h) => !Object.hasOwn(now, h));
  const at = (v: unknown) => {
    const t = parseTimestamp(v);
    return t === undefined ? null : new Date(t).toISOString();
  };
  if (changed.length > 0) {
    await c.query(
      `INSERT INTO ${INVITES_TABLE} AS i (token_hash, email, created_at, expires_at, state, used_at, revoked_at, record)
       SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::text[], $6::timestamptz[],
                            $7::timestamptz[], $8::jsonb[])
       ON CONFLICT (token_hash) DO UPDATE SET email = EXCLUDED.email, created_at = EXCLUDED.created_at,
         expires_at = EXCLUDED.expires_at, state = EXCLUDED.state, used_at = EXCLUDED.used_at,
         revoked_at = EXCLUDED.revoked_at, record = EXCLUDED.record`,
      [
        changed.map(([h]) => h),
        changed.map(([, r]) => r.email),
        changed.map(([, r]) => at(r.created_at)),
        changed.map(([, r]) => at(r.expires_at)),
        changed.map(([, r]) => r.state),
        changed.map(([, r]) => at(r.used_at)),
        changed.map(([, r]) => at(r.revoked_at)),
        changed.map(([, r]) => JSON.stringify(r)),
      ],
    );
  }
  if (deleted.length > 0) await c.query(`DELETE FROM ${INVITES_TABLE} WHERE token_hash = ANY($1::text[])`, [deleted]);
}

export interface WriteResult {
  upserted: string[];
  deleted: string[];
  /** Rows the guard refused because the stored generation was higher (another writer bypassed the lock). */
  refused: string[];
}

/**
 * Writes only what changed between `before` and `after`, inside the caller's transaction. An upsert never
 * replaces a row whose generation is higher than the new one.
 */
export async function writeChanges(c: ClientBase, before: StoreDocument, after: StoreDocument): Promise<WriteResult> {
  const changed: Array<[string, StoredUser]> = [];
  for (const [email, rec] of Object.entries(after.users)) {
    const prev = before.users[email];
    if (!prev || JSON.stringify(prev) !== JSON.stringify(rec)) changed.push([email, rec]);
  }
  const deleted = Object.keys(before.users).filter((e) => !Object.hasOwn(after.users, e));
  let refused: string[] = [];
  if (changed.length > 0) {
    const updatedAt = changed.map(([, u]) => {
      const t = parseTimestamp(u.updated_at);
      return t === undefined ? null : new Date(t).toISOString();
    });
    const r = await c.query<{ email: string }>(
      `INSERT INTO ${TOKENS_TABLE} AS t (email, generation, updated_at, record)
       SELECT e, g, coalesce(u, now()), r FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::jsonb[]) AS x(e, g, u, r)
       ON CONFLICT (email) DO UPDATE SET generation = EXCLUDED.generation, updated_at = EXCLUDED.updated_at, record = EXCLUDED.record
       WHERE t.generation <= EXCLUDED.generation
       RETURNING email`,
      [
        changed.map(([e]) => e),
        changed.map(([, u]) => u.generation ?? 0),
        updatedAt,
        changed.map(([, u]) => JSON.stringify(u)),
      ],
    );
    const written = new Set(r.rows.map((row) => row.email));
    refused = changed.map(([e]) => e).filter((e) => !written.has(e));
  }
  if (deleted.length > 0) await c.query(`DELETE FROM ${TOKENS_TABLE} WHERE email = ANY($1::text[])`, [deleted]);
  if (before.invites !== after.invites) await writeInvites(c, before, after);
  const extra = topLevelExtra(after);
  if (JSON.stringify(topLevelExtra(before)) !== JSON.stringify(extra)) {
    await c.query(
      `INSERT INTO ${META_TABLE} AS m (id, extra, version) VALUES (1, $1::jsonb, 1)
       ON CONFLICT (id) DO UPDATE SET extra = EXCLUDED.extra, version = m.version + 1`,
      [JSON.stringify(extra)],
    );
  }
  return { upserted: changed.map(([e]) => e).filter((e) => !refused.includes(e)), deleted, refused };
}
