/**
 * A throwaway PostgreSQL cluster for the PostgreSQL store tests (issue 9): initdb into a temp folder, start
 * `postgres` on a free loopback port, stop it and delete the folder afterwards. The server refuses to run as
 * root, so under root both run as the `postgres` system user (Debian's package creates it), else `nobody`.
 *
 * Two "hosts" (issue 9: processes split across two separate store connections): the server listens on
 * 127.0.0.1 and 127.0.0.2 (both loopback on Linux). `boxqc` connects without a password (trust); `boxqc_pw`
 * must give a password (scram-sha-256), which the redaction tests look for in every output.
 *
 * No PostgreSQL binaries: the tests skip with a printed reason, except when CI or BOX_QC_REQUIRE_PG is set,
 * where that is a failure (.ci/pg-setup.sh installs Debian's postgresql package).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';

export interface PgBinaries {
  bindir: string;
  /** `setpriv ...` prefix when we are root; empty otherwise. */
  asUser: string[];
  uid: number | undefined;
  gid: number | undefined;
}

/** Finds initdb/postgres (newest version under /usr/lib/postgresql first), or explains why not. */
export function findPgBinaries(): PgBinaries | string {
  const candidates: string[] = [];
  if (existsSync('/usr/lib/postgresql')) {
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin`));
  }
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir) candidates.push(dir);
  const bindir = candidates.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'postgres')));
  if (!bindir)
    return 'no PostgreSQL server binaries (initdb, postgres) found: apt-get install postgresql (see .ci/pg-setup.sh)';
  if (process.geteuid?.() !== 0) return { bindir, asUser: [], uid: undefined, gid: undefined };
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
      return { bindir, asUser: ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups'], uid, gid };
    } catch {
      // try the next user
    }
  }
  return 'running as root and neither the postgres nor the nobody user exists to run the server';
}

/** For describe.skipIf: true when the tests must skip; throws under CI, where skipping would hide a gap. */
export function pgUnavailable(): boolean {
  const found = findPgBinaries();
  if (typeof found !== 'string') return false;
  if (process.env.CI || process.env.BOX_QC_REQUIRE_PG) throw new Error(`CI / BOX_QC_REQUIRE_PG is set but ${found}`);
  console.warn(`skipping PostgreSQL store tests: ${found}`);
  return true;
}

export interface PgCluster {
  port: number;
  /** The password of `boxqc_pw` (tests assert it never appears in output). */
  password: string;
  /** A fresh, empty database; `a` (trust, 127.0.0.1) and `b` (password, 127.0.0.2) are two "hosts". */
  createDatabase(): Promise<{ name: string; a: string; b: string }>;
  /** A URL for `user` without a password, on host 127.0.0.1. */
  url(db: string, user?: string, host?: string): string;
  /** Runs SQL as the superuser in `db`. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    db: string,
    sql: string,
    params?: unknown[],
  ): Promise<pg.QueryResult<R>>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function run(bin: PgBinaries, argv: string[]): void {
  const full = [...bin.asUser, ...argv];
  execFileSync(full[0]!, full.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
}

async function waitReady(port: number, child: ChildProcess, logPath: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null)
      throw new Error(`postgres exited (${child.exitCode}):\n${readFileSync(logPath, 'utf8')}`);
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'boxqc', database: 'postgres' });
    try {
      await c.connect();
      await c.end();
      return;
    } catch {
      await c.end().catch(() => {});
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`postgres did not accept connections:\n${readFileSync(logPath, 'utf8')}`);
}

/** Starts `postgres` on a free port; retries when another process took the port in between (rare). */
async function startServer(
  bin: PgBinaries,
  root: string,
  data: string,
  logPath: string,
  logFd: number,
): Promise<{ child: ChildProcess; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const settings = {
      listen_addresses: '127.0.0.1,127.0.0.2',
      unix_socket_directories: root,
      // A throwaway cluster: durability is not under test here, speed is.
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      // 50 CLI processes at once, each with a pool connection and a lock connection.
      max_connections: '300',
      shared_buffers: '32MB',
    };
    const argv = [
      ...bin.asUser,
      join(bin.bindir, 'postgres'),
      '-D',
      data,
      '-p',
      String(port),
      ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    ];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', logFd, logFd] });
    // If the test process dies without stop(), do not leave a server running.
    const reap = () => child.kill('SIGKILL');
    process.once('exit', reap);
    child.once('exit', () => process.off('exit', reap));
    try {
      await waitReady(port, child, logPath);
      return { child, port };
    } catch (err) {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }
      if (attempt >= 3) throw err;
    }
  }
}

export async function startPgCluster(): Promise<PgCluster> {
  const bin = findPgBinaries();
  if (typeof bin === 'string') throw new Error(bin);
  const root = mkdtempSync(join(tmpdir(), 'boxqc-pg-'));
  const data = join(root, 'data');
  mkdirSync(data, { mode: 0o700 });
  if (bin.uid !== undefined) {
    chownSync(root, bin.uid, bin.gid!);
    chownSync(data, bin.uid, bin.gid!);
  }
  run(bin, [
    join(bin.bindir, 'initdb'),
    '-D',
    data,
    '-U',
    'boxqc',
    '-A',
    'trust',
    '--no-sync',
    '-E',
    'UTF8',
    '--no-locale',
  ]);
  writeFileSync(
    join(data, 'pg_hba.conf'),
    ['local all all trust', 'host all boxqc 127.0.0.0/8 trust', 'host all all 127.0.0.0/8 scram-sha-256', ''].join(
      '\n',
    ),
  );
  const logPath = join(root, 'postgres.log');
  const logFd = openSync(logPath, 'a');
  if (bin.uid !== undefined) chownSync(logPath, bin.uid, bin.gid!);
  const { child, port } = await startServer(bin, root, data, logPath, logFd);
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  const admin = (db: string) => new pg.Client({ host: '127.0.0.1', port, user: 'boxqc', database: db });
  const query = async <R extends pg.QueryResultRow>(db: string, sql: string, params: unknown[] = []) => {
    const c = admin(db);
    await c.connect();
    try {
      return await c.query<R>(sql, params);
    } finally {
      await c.end();
    }
  };
  await query('postgres', `CREATE ROLE boxqc_pw LOGIN SUPERUSER PASSWORD '${password}'`);
  let dbCount = 0;
  const url = (db: string, user = 'boxqc', host = '127.0.0.1') => `postgres://${user}@${host}:${port}/${db}`;
  return {
    port,
    password,
    url,
    query,
    async createDatabase() {
      const name = `t${++dbCount}_${randomBytes(3).toString('hex')}`;
      await query('postgres', `CREATE DATABASE ${name}`);
      return { name, a: url(name), b: `postgres://boxqc_pw:${encodeURIComponent(password)}@127.0.0.2:${port}/${name}` };
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGINT'); // fast shutdown: disconnects clients, no checkpoint wait worth speaking of
        await exited;
      }
      closeSync(logFd);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export interface PgClusterFixture {
  /** True when this machine has no PostgreSQL (pgUnavailable): give it to skipIf. */
  skip: boolean;
  /** The file's cluster; throws when it was skipped or has not started (use inside tests and hooks only). */
  cluster(): PgCluster;
}

/**
 * The set-up every PostgreSQL test file shares: decide once whether to skip, start one cluster for the file
 * before its tests (initdb takes seconds: not per test) and stop it after them.
 */
export function usePgCluster(): PgClusterFixture {
  const skip = pgUnavailable();
  let started: PgCluster | undefined;
  beforeAll(async () => {
    if (!skip) started = await startPgCluster();
  }, 60_000);
  afterAll(async () => started?.stop());
  return {
    skip,
    cluster() {
      if (started) return started;
      throw new Error(
        skip ? 'no PostgreSQL here: this test should have been skipped' : 'the PostgreSQL cluster has not started',
      );
    },
  };
}
