/**
 * Issue 20 (the PostgreSQL lock storm): the box-qc command loads the pg driver from its own bundle,
 * dist/cli/pg.cjs (scripts/bundle-pg.mjs), not from node_modules, and without what pg would load at start-up
 * that a Node process never needs: Node's fetch implementation (pg's Cloudflare test), node:crypto (password
 * authentication only) and node:dns. And password authentication still works, through the crypto that is now
 * loaded on first use. Runs the built binary against a real PostgreSQL cluster.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeResult, runCli } from '../../helpers/run-cli.js';
import { usePgCluster } from '../../helpers/pg-cluster.js';
import { requireBuild } from '../../helpers/store-procs.js';

beforeAll(requireBuild);
const { skip, cluster } = usePgCluster();

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'boxqc-pg-bundle-'));
  // Preloaded with --require: on exit, writes the builtins the process loaded and the files it require()d.
  writeFileSync(
    join(dir, 'record-loads.cjs'),
    `process.on('exit', () => require('node:fs').writeFileSync(process.env.RECORD_LOADS_TO, JSON.stringify({
      builtins: process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)),
      files: Object.keys(require.cache),
    })));\n`,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Loads {
  builtins: string[];
  files: string[];
}

async function runRecorded(args: string[], store: string, name: string) {
  const out = join(dir, `${name}.json`);
  const r = await runCli(args, {
    env: { BOX_QC_STORE: store, NODE_OPTIONS: `--require ${join(dir, 'record-loads.cjs')}`, RECORD_LOADS_TO: out },
    timeoutMs: 60_000,
  });
  return { r, loads: JSON.parse(readFileSync(out, 'utf8')) as Loads };
}

/** `status --json` on a fresh, initialised database, through `url` (trust or password), with its loads. */
async function statusOnNewStore(url: (db: { a: string; b: string }) => string, name: string) {
  const db = await cluster().createDatabase();
  expect((await runCli(['store', 'init'], { env: { BOX_QC_STORE: db.a } })).code).toBe(0);
  const { r, loads } = await runRecorded(['status', '--json'], url(db), name);
  expect(r.code, describeResult(r)).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, users: [] });
  return { r, loads };
}

describe.skipIf(skip)('the pg driver in the box-qc command', () => {
  it('comes from dist/cli/pg.cjs, without loading fetch, node:crypto or node:dns', async () => {
    const { loads } = await statusOnNewStore((db) => db.a, 'trust');
    expect(loads.files.filter((f) => /[/\\]node_modules[/\\]pg[/\\]/.test(f))).toEqual([]);
    expect(loads.builtins).toContain('net');
    for (const unneeded of ['internal/deps/undici/undici', 'crypto', 'internal/crypto/webcrypto', 'dns'])
      expect(loads.builtins, unneeded).not.toContain(unneeded);
  }, 90_000);

  it('still authenticates with a password (SCRAM), loading node:crypto only then', async () => {
    const { r, loads } = await statusOnNewStore((db) => db.b, 'scram');
    expect(loads.builtins).toContain('crypto');
    expect(`${r.stdout}${r.stderr}`).not.toContain(cluster().password);
  }, 90_000);
});
