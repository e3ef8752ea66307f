// A throwaway PostgreSQL cluster for the PostgreSQL benches (issue 20), as test/helpers/pg-cluster.ts starts
// one for the tests: initdb into a temp folder (C locale, UTF-8), `postgres` on a free loopback port, stopped
// and deleted by stop(). Under root both run as the `postgres` (else `nobody`) system user. Durability is
// not what is measured (fsync off, as in the tests): the figures compare one store size with another.
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './common.js';

export function findPgBinaries() {
  const candidates = [];
  if (existsSync('/usr/lib/postgresql'))
    candidates.push(
      ...readdirSync('/usr/lib/postgresql')
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
        .map((v) => `/usr/lib/postgresql/${v}/bin`),
    );
  for (const d of (process.env.PATH ?? '').split(':')) if (d) candidates.push(d);
  const bindir = candidates.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'postgres')));
  if (!bindir) return undefined;
  if (process.geteuid?.() !== 0) return { bindir, asUser: [] };
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
      return { bindir, uid, gid, asUser: ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups'] };
    } catch {}
  }
  return undefined;
}

export async function startPgCluster() {
  const bin = findPgBinaries();
  if (!bin) throw new Error('no PostgreSQL server binaries (initdb, postgres): see .ci/pg-setup.sh');
  const root = mkdtempSync(join(tmpdir(), 'boxqc-bench-pg-'));
  const data = join(root, 'data');
  mkdirSync(data, { mode: 0o700 });
  if (bin.uid !== undefined) {
    chownSync(root, bin.uid, bin.gid);
    chownSync(data, bin.uid, bin.gid);
  }
  const argv0 = [...bin.asUser, join(bin.bindir, 'initdb'), '-D', data, '-U', 'boxqc', '-A', 'trust', '--no-sync'];
  const initdb = [...argv0, '-E', 'UTF8', '--no-locale'];
  execFileSync(initdb[0], initdb.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  writeFileSync(join(data, 'pg_hba.conf'), 'local all all trust\nhost all boxqc 127.0.0.0/8 trust\n');
  const logPath = join(root, 'postgres.log');
  const logFd = openSync(logPath, 'a');
  if (bin.uid !== undefined) chownSync(logPath, bin.uid, bin.gid);
  const port = await freePort();
  const settings = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: root,
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    max_connections: '300',
    shared_buffers: '64MB',
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
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', logFd, logFd] });
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  const url = (db) => `postgres://boxqc@127.0.0.1:${port}/${db}`;
  const query = async (db, sql, params = []) => {
    const c = new pg.Client({ connectionString: url(db) });
    await c.connect();
    try {
      return await c.query(sql, params);
    } finally {
      await c.end();
    }
  };
  for (let i = 0; ; i++) {
    try {
      await query('postgres', 'SELECT 1');
      break;
    } catch (err) {
      if (child.exitCode !== null || i > 300)
        throw new Error(`postgres did not start (${err.message}); see ${logPath}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    port,
    url,
    query,
    async createDatabase(name) {
      await query('postgres', `CREATE DATABASE ${name}`);
      return url(name);
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGINT');
        await exited;
      }
      process.off('exit', reap);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
