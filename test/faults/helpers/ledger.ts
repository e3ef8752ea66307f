/**
 * The suite's summary (issue 7 "Done when"): each test records one row (iterations, stores corrupted, users
 * lost and why, locks stuck, litter, secret leaks, with its bounds); global-setup.ts prints the table after
 * the run and fails it when any row is out of bounds. Each test also asserts its own row, so a failure
 * points at the test that broke the bound.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LedgerRow {
  name: string;
  iterations: number;
  corrupted: number;
  lost: number;
  /** reason -> count, e.g. { refresh_interrupted: 3 } or { silent: 1 } */
  lostWhy: Record<string, number>;
  /** Most users this test may lose (losses must also be explained: killed inside the in-flight window). */
  maxLost: number;
  /** Lost users not explained (outside the in-flight window, wrong or missing reason): always bound 0. */
  unexplained: number;
  stuck: number;
  litter: number;
  leaks: number;
  /** Distinct secrets (tokens, codes, client secret) searched for in every output and command line. */
  secretsChecked: number;
  /** Any other check of the test that failed (exit codes, recovery, messages): bound 0. */
  failed: number;
  notes?: string;
}

export function ledgerDir(): string {
  return process.env.BOX_QC_FAULTS_LEDGER ?? join(tmpdir(), 'boxqc-faults-ledger');
}

export function rowOk(r: LedgerRow): boolean {
  return (
    r.corrupted === 0 &&
    r.lost <= r.maxLost &&
    r.unexplained === 0 &&
    r.stuck === 0 &&
    r.litter === 0 &&
    r.leaks === 0 &&
    r.failed === 0
  );
}

export function emptyRow(name: string, maxLost = 0): LedgerRow {
  return {
    name,
    iterations: 0,
    corrupted: 0,
    lost: 0,
    lostWhy: {},
    maxLost,
    unexplained: 0,
    stuck: 0,
    litter: 0,
    leaks: 0,
    secretsChecked: 0,
    failed: 0,
  };
}

export function recordRow(row: LedgerRow): void {
  const dir = ledgerDir();
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${row.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 80)}-${process.pid}-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(row));
}

export function readRows(dir = ledgerDir()): LedgerRow[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as LedgerRow);
  } catch {
    return [];
  }
}

export function formatTable(rows: LedgerRow[]): string {
  const head = [
    'test',
    'iter',
    'corrupt',
    'lost (why)',
    'unexpl.',
    'stuck',
    'litter',
    'leaks/secrets',
    'failed',
    'ok',
    'notes',
  ];
  const body = rows.map((r) => [
    r.name,
    String(r.iterations),
    String(r.corrupted),
    `${r.lost}/${r.maxLost >= 1e9 ? 'any' : r.maxLost}${
      r.lost
        ? ` (${Object.entries(r.lostWhy)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')})`
        : ''
    }`,
    String(r.unexplained),
    String(r.stuck),
    String(r.litter),
    `${r.leaks}/${r.secretsChecked}`,
    String(r.failed),
    rowOk(r) ? 'ok' : 'FAIL',
    r.notes ?? '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
