/**
 * Issue 15 item 16: `status` on a PostgreSQL store says where the store is (host, port, database, user),
 * not the file store's "file ?, folder ?", and never the password (from the URL or PGPASSWORD). Runs the
 * built binary.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { describeResult, runCli } from '../../helpers/run-cli.js';
import { usePgCluster } from '../../helpers/pg-cluster.js';
import { requireBuild } from '../../helpers/store-procs.js';
import { openPg } from './pg-lab.js';

beforeAll(requireBuild);
const { skip, cluster } = usePgCluster();

async function createdDb() {
  const db = await cluster().createDatabase();
  const s = openPg(db.a);
  await s.init();
  await s.close();
  return db;
}

describe.skipIf(skip)('status on a PostgreSQL store', () => {
  it('text: shows host, port, database and user of the store, not "file ?, folder ?", never the password', async () => {
    const db = await createdDb();
    const r = await runCli(['status'], { env: { BOX_QC_STORE: db.b } });
    expect(r.code, describeResult(r)).toBe(0);
    const line = r.stdout.split('\n').find((l) => l.trimStart().startsWith('store'))!;
    expect(line, r.stdout).toContain(
      `PostgreSQL host 127.0.0.2, port ${cluster().port}, database ${db.name}, user boxqc_pw`,
    );
    expect(line).not.toMatch(/file \?|folder \?/);
    expect(`${r.stdout}${r.stderr}`).not.toContain(cluster().password);
  }, 60_000);

  it('--json: config.store.server holds host, port, database and user; no password anywhere', async () => {
    const db = await createdDb();
    const r = await runCli(['status', '--json'], { env: { BOX_QC_STORE: db.b } });
    expect(r.code, describeResult(r)).toBe(0);
    const report = JSON.parse(r.stdout) as { config: { store: Record<string, unknown> } };
    expect(report.config.store).toMatchObject({
      kind: 'postgres',
      exists: true,
      server: { host: '127.0.0.2', port: cluster().port, database: db.name, user: 'boxqc_pw' },
    });
    expect(`${r.stdout}${r.stderr}`).not.toContain(cluster().password);
  }, 60_000);

  it('a fresh database, password from PGPASSWORD: names the server, never prints the password', async () => {
    const db = await cluster().createDatabase();
    const url = `postgres://boxqc_pw@127.0.0.2:${cluster().port}/${db.name}`;
    const r = await runCli(['status'], { env: { BOX_QC_STORE: url, PGPASSWORD: cluster().password } });
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stdout).toContain(`PostgreSQL host 127.0.0.2, port ${cluster().port}, database ${db.name}, user boxqc_pw`);
    expect(`${r.stdout}${r.stderr}`).not.toContain(cluster().password);
    const db2 = await cluster().createDatabase();
    const url2 = `postgres://boxqc_pw@127.0.0.2:${cluster().port}/${db2.name}`;
    const j = await runCli(['status', '--json'], { env: { BOX_QC_STORE: url2, PGPASSWORD: cluster().password } });
    expect(j.code, describeResult(j)).toBe(0);
    expect(JSON.parse(j.stdout).config.store).toMatchObject({ server: { host: '127.0.0.2', database: db2.name } });
    expect(`${j.stdout}${j.stderr}`).not.toContain(cluster().password);
  }, 60_000);
});
