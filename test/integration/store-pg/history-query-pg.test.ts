/**
 * Issue 20: the audit log's INSERT transaction goes to the server as one message, its values written as
 * literals (postgres/history-query.ts). Whatever an entry holds (quotes, backslashes, a `$1`, no email or
 * request id, non-ASCII) comes back exactly; a statement the inliner cannot handle is sent as before.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { openPostgresStore } from '../../../src/core/store/postgres/postgres-store.js';
import { inlineArrays } from '../../../src/core/store/postgres/history-query.js';
import type { TokenStore } from '../../../src/core/store/types.js';
import { usePgCluster } from '../../helpers/pg-cluster.js';

const { skip, cluster } = usePgCluster();
const opened: TokenStore[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close().catch(() => {})));
});

describe('inlineArrays (the INSERT as literals)', () => {
  const lit = (v: string) => pg.escapeLiteral(v);
  it('writes each array parameter as ARRAY[...] of literals, nulls as NULL, keeping the casts', () => {
    expect(
      inlineArrays(
        'INSERT INTO t (a, b) SELECT * FROM unnest($1::text[], $2::integer[])',
        [
          ["o'x", null],
          [7, 8],
        ],
        lit,
      ),
    ).toBe("INSERT INTO t (a, b) SELECT * FROM unnest(ARRAY['o''x', NULL]::text[], ARRAY['7', '8']::integer[])");
  });
  it('refuses what it cannot write safely: a quoted part in the statement, a non-array or object value, a missing $n', () => {
    expect(inlineArrays("INSERT INTO t SELECT '$1', $1::text[]", [['a']], lit)).toBeUndefined();
    expect(inlineArrays('INSERT INTO t SELECT $1::text', ['a'], lit)).toBeUndefined();
    expect(inlineArrays('INSERT INTO t SELECT * FROM unnest($1::jsonb[])', [[{ a: 1 }]], lit)).toBeUndefined();
    expect(inlineArrays('INSERT INTO t SELECT * FROM unnest($2::text[])', [['a']], lit)).toBeUndefined();
  });
});

describe.skipIf(skip)('PostgreSQL audit log: one message per INSERT', () => {
  it('entries with quotes, backslashes, $n, non-ASCII and absent fields round-trip exactly', async () => {
    const db = await cluster().createDatabase();
    const facts = { host: "h'o\\st", pid: 4242, os_user: 'ü$1', command: 'refresh' };
    const store = openPostgresStore(db.a, { pid: process.pid, hostname: 'h', env: {}, history: { facts } });
    opened.push(store);
    const details = ["it's", 'back\\slash', '$1 and $$ and $2', 'emoji 🎉', "'); DROP TABLE box_qc_tokens; --"];
    await Promise.all([
      ...details.map((detail, i) =>
        store.history!.append({
          event: 'refresh',
          email: `u${i}@x.com`,
          outcome: 'refreshed',
          detail,
          box_request_id: `r'${i}`,
        }),
      ),
      store.history!.append({ event: 'transition', outcome: 'dead' }),
    ]);
    const back = await store.history!.read({});
    expect(back).toHaveLength(details.length + 1);
    expect(
      back
        .map((e) => e.detail)
        .filter((d) => d !== undefined)
        .sort(),
    ).toEqual([...details].sort());
    for (const e of back) expect(e).toMatchObject(facts);
    const bare = back.find((e) => e.event === 'transition')!;
    expect(bare.email).toBeUndefined();
    expect(bare.box_request_id).toBeUndefined();
    expect((await cluster().query(db.name, 'SELECT count(*)::int AS n FROM box_qc_tokens')).rows[0]).toEqual({ n: 0 });
  }, 30_000);
});
