/**
 * The PostgreSQL audit log's write path (core/history/pg-history.ts) against a fake query: appends arriving
 * while an INSERT runs are batched into the next one, at most one INSERT is in flight (the main pool's two
 * connections belong to the saves), every append resolves once its row is written, a failing INSERT is one
 * warning and never a rejection.
 */
import { describe, expect, it } from 'vitest';
import { openPgHistory, type HistoryQuery } from '../../../src/core/history/pg-history.js';

const facts = { host: 'h', pid: 1, os_user: 'u', command: 'refresh' };

function fakeQuery(opts: { fail?: boolean } = {}) {
  const inserted: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let statements = 0;
  const query: HistoryQuery = async (_sql, params) => {
    statements += 1;
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setTimeout(r, 5));
    inFlight -= 1;
    if (opts.fail) throw new Error('connection refused');
    inserted.push(...(params[7] as string[]));
    return [];
  };
  return { query, inserted, stats: () => ({ maxInFlight, statements }) };
}

describe('pg history appends', () => {
  it('batches appends, one INSERT at a time, each append resolved after its row is written', async () => {
    const f = fakeQuery();
    const log = openPgHistory(f.query, 'db', { facts });
    const resolved: number[] = [];
    const all = Array.from({ length: 50 }, (_, i) =>
      log.append({ event: 'refresh', email: `u${i}@x.com`, outcome: `o${i}` }).then(() => {
        expect(f.inserted).toContain(`o${i}`);
        resolved.push(i);
      }),
    );
    await Promise.all(all);
    await log.idle();
    expect(f.inserted.sort()).toEqual(Array.from({ length: 50 }, (_, i) => `o${i}`).sort());
    expect(f.stats().maxInFlight).toBe(1);
    expect(f.stats().statements).toBeLessThan(50);
    // A late append after the queue drained is written too.
    await log.append({ event: 'refresh', email: 'late@x.com', outcome: 'late' });
    expect(f.inserted).toContain('late');
  });

  it('a failing INSERT is one warning, never a rejection', async () => {
    const f = fakeQuery({ fail: true });
    const warnings: string[] = [];
    const log = openPgHistory(f.query, 'db', { facts, onWarning: (l) => warnings.push(l) });
    await Promise.all([1, 2, 3].map((i) => log.append({ event: 'refresh', outcome: `o${i}` })));
    await log.append({ event: 'refresh', outcome: 'again' });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('box_qc_history');
  });
});
