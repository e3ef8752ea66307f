/**
 * Issue 3 "Done when": 8 corrupt stores x every command, through the built binary. Each run must exit 2
 * with stderr naming the store path, leave the file byte-identical, and make no request to Box (a local
 * server standing in for Box records anything that reaches it). Requires a build (dist/).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeResult, runCli } from '../../helpers/run-cli.js';
import { CORRUPT_FIXTURES } from '../../fixtures/store/corrupt-fixtures.js';
import { sha256 } from '../../unit/store/store-test-kit.js';
import { requireBuild } from '../../helpers/store-procs.js';

const COMMANDS: string[][] = [
  ['status'],
  ['status', '--json'],
  ['ls', '0', '--email', 'a@example.com'],
  ['token', '--email', 'a@example.com'],
  ['refresh', '--all'],
  ['disconnect', '--email', 'a@example.com'],
  ['connect', '--email', 'a@example.com', '--print-url'],
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

describe('every command refuses a corrupt store', () => {
  for (const fixture of CORRUPT_FIXTURES) {
    it(`${fixture.name}: every command exits 2 naming the path, no byte changed, no request to Box`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'boxqc-corrupt-'));
      try {
        const store = join(dir, 'tokens.json');
        fixture.install(store);
        const isFile = statSync(store).isFile();
        const before = isFile ? sha256(store) : undefined;
        const env = {
          HOME: dir,
          XDG_CONFIG_HOME: join(dir, 'config'),
          BOX_QC_STORE: store,
          BOX_CLIENT_ID: 'test-client-id',
          BOX_CLIENT_SECRET: 'test-client-secret',
          BOX_API_BASE_URL: base,
          BOX_AUTHORIZE_URL: `${base}/authorize`,
          BOX_QC_LOCK_WAIT_MS: '2000',
        };
        for (const args of COMMANDS) {
          const r = await runCli(args, { env, timeoutMs: 20_000 });
          const what = `box-qc ${args.join(' ')} with ${fixture.name}\n${describeResult(r)}`;
          expect(r.code, what).toBe(2);
          // Under --json the one failure document on stdout carries the message (STYLE.md "Errors").
          if (args.includes('--json')) expect(JSON.parse(r.stdout).error.message, what).toContain(store);
          else expect(r.stderr, what).toContain(store);
          if (isFile) expect(sha256(store), what).toBe(before);
          else expect(statSync(store).isDirectory(), what).toBe(true);
          expect(requests, what).toEqual([]);
        }
        expect(requests).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
