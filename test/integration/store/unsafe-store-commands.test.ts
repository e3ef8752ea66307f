/**
 * Issue 15 items 6, 9 and 13 through the built binary, in the pattern of corrupt-store-commands: for every
 * bad lock file (huge, symlink, folder, FIFO, another user's), every store folder another user could write
 * to or owns, and a corrupt store whose broken JSON sits inside a token, every command exits 2 with a
 * one-line message naming the path, no request reaches Box, and the store keeps its bytes and its mode.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeLockPath, userLockPath } from '../../../src/core/store/index.js';
import { describeResult, runCli } from '../../helpers/run-cli.js';
import { PYTHON_BACKEND_FIXTURE } from '../../fixtures/store/corrupt-fixtures.js';
import { sha256 } from '../../unit/store/store-test-kit.js';
import { requireBuild } from '../../helpers/store-procs.js';

const COMMANDS: string[][] = [
  ['status'],
  ['status', '--json'],
  ['ls', '0', '--email', 'a@example.com'],
  ['token', '--email', 'a@example.com'],
  ['refresh', '--all'],
  ['refresh', '--email', 'a@example.com', '--force'],
  ['disconnect', '--email', 'a@example.com'],
  ['connect', '--email', 'a@example.com', '--print-url'],
];
const isRoot = process.geteuid?.() === 0;
const TOKEN = 'Qm7wZt4RkX9pVb2NcY8sLd3F';

interface Variant {
  name: string;
  /** Returns the path the message must name. */
  install(dir: string, store: string): string;
  root?: boolean;
  /** The store file is not ours to check for bytes/mode (the folder case installs no store). */
  secret?: boolean;
}

const sparse = (size: number) => (lock: string) => {
  writeFileSync(lock, '');
  truncateSync(lock, size);
};
const LOCK_KINDS: Array<{ name: string; plant(lock: string, dir: string): void; root?: boolean }> = [
  { name: 'a 700 MB lock file', plant: sparse(700 * 1024 ** 2) },
  { name: 'a 3 GiB lock file', plant: sparse(3 * 1024 ** 3) },
  { name: 'a symlink as lock file', plant: (lock, dir) => symlinkSync(join(dir, 'victim'), lock) },
  { name: 'a folder as lock file', plant: (lock) => mkdirSync(lock) },
  { name: 'a FIFO as lock file', plant: (lock) => execFileSync('mkfifo', [lock]) },
  {
    name: 'a lock file of another user',
    root: true,
    plant: (lock) => {
      writeFileSync(lock, JSON.stringify({ pid: 1, host: 'elsewhere', nonce: 'planted' }), { mode: 0o600 });
      chownSync(lock, 65534, 65534);
    },
  },
];

const VARIANTS: Variant[] = [
  ...LOCK_KINDS.flatMap((k) =>
    (['store', 'user'] as const).map((which): Variant => ({
      name: `${k.name} at the ${which} lock`,
      root: k.root,
      install(dir, store) {
        const lock = which === 'store' ? storeLockPath(store) : userLockPath(store, 'a@example.com');
        k.plant(lock, dir);
        return lock;
      },
    })),
  ),
  ...[0o777, 0o770, 0o1777].map((mode): Variant => ({
    name: `a store folder with mode 0${mode.toString(8)}`,
    install(dir) {
      chmodSync(dir, mode);
      return `chmod 700 ${dir}`;
    },
  })),
  {
    name: 'a store folder owned by another user',
    root: true,
    install(dir) {
      chownSync(dir, 65534, 65534);
      return dir;
    },
  },
  {
    name: 'a corrupt store whose broken JSON is inside a token',
    secret: true,
    install(_dir, store) {
      writeFileSync(
        store,
        `{"version": 1, "users": {"a@example.com": {"access_token": ${TOKEN}, "refresh_token": "x"}}}\n`,
      );
      chmodSync(store, 0o644);
      return store;
    },
  },
];

let server: Server;
let base: string;
const requests: string[] = [];

beforeAll(async () => {
  requireBuild();
  server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"test: no request expected"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('every command refuses an untrustworthy store folder or lock file the same way', () => {
  for (const v of VARIANTS) {
    it.runIf(!v.root || isRoot)(
      `${v.name}: every command exits 2 with one line naming it, no request, store bytes and mode unchanged`,
      async () => {
        const root = mkdtempSync(join(tmpdir(), 'boxqc-unsafe-'));
        const dir = join(root, 'box-qc');
        mkdirSync(dir, { mode: 0o700 });
        try {
          const store = join(dir, 'tokens.json');
          copyFileSync(PYTHON_BACKEND_FIXTURE, store);
          chmodSync(store, 0o644);
          const named = v.install(dir, store);
          const before = sha256(store);
          const env = {
            HOME: root,
            XDG_CONFIG_HOME: join(root, 'config'),
            BOX_QC_STORE: store,
            BOX_CLIENT_ID: 'test-client-id',
            BOX_CLIENT_SECRET: 'test-client-secret',
            BOX_API_BASE_URL: base,
            BOX_AUTHORIZE_URL: `${base}/authorize`,
            BOX_QC_LOCK_WAIT_MS: '2000',
          };
          for (const args of COMMANDS) {
            const r = await runCli(args, { env, timeoutMs: 30_000 });
            const what = `box-qc ${args.join(' ')} with ${v.name}\n${describeResult(r)}`;
            expect(r.code, what).toBe(2);
            const message: string = args.includes('--json')
              ? JSON.parse(r.stdout).error.message
              : r.stderr.split('\n')[0]!;
            expect(message, what).toContain(named);
            expect(message, what).not.toContain('\n');
            if (v.secret) {
              for (let i = 0; i + 5 <= TOKEN.length; i++)
                expect(r.stdout + r.stderr, what).not.toContain(TOKEN.slice(i, i + 5));
            }
            expect(sha256(store), what).toBe(before);
            expect(statSync(store).mode & 0o777, what).toBe(0o644);
            expect(requests, what).toEqual([]);
          }
        } finally {
          rmSync(root, { recursive: true, force: true });
        }
      },
    );
  }

  it('a symlinked store folder: status and refresh agree (both read and write through it)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'boxqc-unsafe-'));
    try {
      const real = join(root, 'real');
      mkdirSync(real, { mode: 0o700 });
      symlinkSync(real, join(root, 'box-qc'));
      const store = join(root, 'box-qc', 'tokens.json');
      const env = {
        HOME: root,
        XDG_CONFIG_HOME: join(root, 'config'),
        BOX_QC_STORE: store,
        BOX_CLIENT_ID: 'id',
        BOX_CLIENT_SECRET: 'secret',
        BOX_API_BASE_URL: base,
      };
      // Nothing connected yet: both succeed through the link, neither calls Box.
      for (const args of [['status'], ['refresh', '--all'], ['disconnect', '--email', 'a@example.com']]) {
        const r = await runCli(args, { env, timeoutMs: 30_000 });
        expect([0, 4], `box-qc ${args.join(' ')}\n${describeResult(r)}`).toContain(r.code);
        expect(r.stderr, describeResult(r)).not.toMatch(/not a folder/);
      }
      chmodSync(real, 0o777);
      for (const args of [['status'], ['refresh', '--all']]) {
        const r = await runCli(args, { env, timeoutMs: 30_000 });
        expect(r.code, describeResult(r)).toBe(2);
        expect(r.stderr, describeResult(r)).toContain(`chmod 700 ${join(root, 'box-qc')}`);
      }
      expect(requests).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
