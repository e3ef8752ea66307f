/**
 * Prints the fault suite's summary table after every run and fails the run when a row is out of bounds
 * (issue 7). Rows are written by the tests into a per-run folder (test/faults/helpers/ledger.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatTable, readRows, rowOk } from './helpers/ledger.js';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'boxqc-faults-ledger-'));
  process.env.BOX_QC_FAULTS_LEDGER = dir;
  return () => {
    const rows = readRows(dir);
    rmSync(dir, { recursive: true, force: true });
    const soak = process.env.BOX_QC_SOAK === '1' ? 'soak' : 'PR';
    process.stdout.write(`\nbox-qc fault suite summary (${soak} sizes)\n${formatTable(rows)}\n\n`);
    const bad = rows.filter((r) => !rowOk(r));
    if (bad.length > 0) {
      // vitest reports a throwing teardown but still exits 0: set the exit code ourselves.
      process.exitCode = 1;
      process.stderr.write(
        `fault suite FAILED: ${bad.length} row(s) out of bounds: ${bad.map((r) => r.name).join('; ')}\n`,
      );
    }
  };
}
