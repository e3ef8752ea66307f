/**
 * `refresh --metrics-file <path>` (issue 18): the metrics (metrics.ts) written for node_exporter's textfile
 * collector, atomically: a temp file in the same folder (named `.<name>.<random>.tmp`, which the collector's
 * `*.prom` glob never picks up), written, fsynced, renamed over the path, and the folder fsynced, so a
 * scrape reads the old file or the new one, never half of one. 0644: the file holds no token, and
 * node_exporter usually runs as another user.
 *
 * box_qc_refresh_total is a counter: each run adds its counts to those in the file it replaces (a missing or
 * unreadable file starts from 0, which Prometheus treats as a counter reset). Two runs overlapping on one
 * file may lose one run's counts; they never make a total go backwards by more than that run.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { OperationError, UsageError } from '../../errors.js';
import type { RefreshOutcome } from '../refresh-all.js';
import type { StoreDocument } from '../store/types.js';
import { metricsInputFrom, renderMetrics, REFRESH_RESULTS, type RefreshResult } from './metrics.js';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, O_NONBLOCK } = fs.constants;
const MAX_PREVIOUS_BYTES = 4 * 1024 * 1024;

/** Before any refresh: the folder must exist, and the path must not be a folder. Exit 2 otherwise. */
export async function checkMetricsPath(path: string): Promise<void> {
  const dir = dirname(path);
  const dirOk = await call<fs.Stats>((cb) => fs.stat(dir, cb)).then(
    (st) => st.isDirectory(),
    () => false,
  );
  if (!dirOk) throw new UsageError(`--metrics-file: the folder ${dir} does not exist`, { code: 'E_METRICS_PATH' });
  const isDir = await call<fs.Stats>((cb) => fs.stat(path, cb)).then(
    (st) => st.isDirectory(),
    () => false,
  );
  if (isDir) throw new UsageError(`--metrics-file: ${path} is a folder; name a file`, { code: 'E_METRICS_PATH' });
}

/** One run's outcomes as the metric's results (needs_reconnect -> dead, temporary_failure -> temporary). */
export function countResults(outcomes: readonly RefreshOutcome[]): Record<RefreshResult, number> {
  const c: Record<RefreshResult, number> = { refreshed: 0, skipped: 0, dead: 0, temporary: 0, failed: 0 };
  for (const o of outcomes) {
    if (o.status === 'needs_reconnect') c.dead += 1;
    else if (o.status === 'temporary_failure') c.temporary += 1;
    else c[o.status] += 1;
  }
  return c;
}

/** Renders the store and this run into `path`, atomically. Throws OperationError (exit 1) when it cannot. */
export async function writeRunMetrics(
  path: string,
  doc: StoreDocument,
  outcomes: readonly RefreshOutcome[],
  now: number,
): Promise<void> {
  const previous = await previousTotals(path);
  const run = countResults(outcomes);
  const totals = Object.fromEntries(
    (Object.keys(run) as RefreshResult[]).map((r) => [r, (previous[r] ?? 0) + run[r]]),
  ) as Record<RefreshResult, number>;
  await writeAtomic(path, renderMetrics(metricsInputFrom(doc, now, { totals, lastRunMs: now })));
}

/** The running totals in the file this run replaces (ours: box_qc_refresh_total lines); {} when none. */
export async function previousTotals(path: string): Promise<Partial<Record<RefreshResult, number>>> {
  let text: string;
  try {
    const fd = await call<number>((cb) => fs.open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, cb));
    try {
      const st = await call<fs.Stats>((cb) => fs.fstat(fd, cb));
      if (!st.isFile() || st.size > MAX_PREVIOUS_BYTES) return {};
      text = (await call<Buffer>((cb) => fs.readFile(fd, cb))).toString('utf8');
    } finally {
      fs.close(fd, () => {});
    }
  } catch {
    return {};
  }
  const totals: Partial<Record<RefreshResult, number>> = {};
  const known = new Set<string>([...REFRESH_RESULTS, 'failed']);
  for (const m of text.matchAll(/^box_qc_refresh_total\{result="([a-z]+)"\} (\d+)$/gm)) {
    const n = Number(m[2]);
    if (known.has(m[1]!) && Number.isSafeInteger(n)) totals[m[1] as RefreshResult] = n;
  }
  return totals;
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = await call<number>((cb) => fs.open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644, cb));
    const opened = fd;
    // The umask must not narrow it: node_exporter reads the file as its own user.
    await call((cb) => fs.fchmod(opened, 0o644, cb));
    const data = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < data.length) {
      const start = off;
      off += await call<number>((cb) => fs.write(opened, data, start, data.length - start, null, cb));
    }
    await call((cb) => fs.fsync(opened, cb));
    await call((cb) => fs.close(opened, cb));
    fd = undefined;
    await call((cb) => fs.rename(temp, path, cb));
  } catch (err) {
    if (fd !== undefined) fs.close(fd, () => {});
    fs.unlink(temp, () => {});
    const code = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : 'error');
    throw new OperationError('E_METRICS_WRITE', `could not write the metrics file ${path} (${code})`);
  }
  await fsyncDir(dir);
}

/** The rename survives a power loss once the folder is synced; a folder that cannot be synced is no failure. */
async function fsyncDir(dir: string): Promise<void> {
  try {
    const fd = await call<number>((cb) => fs.open(dir, O_RDONLY, cb));
    await call((cb) => fs.fsync(fd, cb)).catch(() => undefined);
    fs.close(fd, () => {});
  } catch {
    // best effort
  }
}

function call<T = void>(fn: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}
