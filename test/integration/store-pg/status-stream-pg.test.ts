/**
 * Issue 20: `status --json` over every user is streamed (keyset pages on PostgreSQL, status-stream.ts) and
 * its bytes are exactly what JSON.stringify(report, null, 2) printed before: checked on a store of several
 * pages, on an empty store and against `--email`'s entry for the same user. Runs the built binary.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { saveUserTokens } from '../../../src/core/store/document.js';
import { describeResult, runCli } from '../../helpers/run-cli.js';
import { usePgCluster } from '../../helpers/pg-cluster.js';
import { requireBuild } from '../../helpers/store-procs.js';
import { backends } from './backends.js';

beforeAll(requireBuild);
const { skip: skipPg, cluster } = usePgCluster();

const email = (i: number) => `user${String(i).padStart(4, '0')}@example.com`;

describe.each(backends(cluster))('$name store: status --json streams the same bytes', (backend) => {
  const skip = backend.name === 'postgres' && skipPg;

  it.skipIf(skip)(
    '2,345 users (3 pages): every user in order, byte-identical to one JSON.stringify',
    async () => {
      const b = await backend.create();
      const store = b.open();
      await store.update((d) => {
        for (let i = 0; i < 2345; i++)
          saveUserTokens(d, email(i), { accessToken: `a${i}`, refreshToken: `r${i}`, expiresIn: 3600 }, undefined, 0);
      });
      await store.close();
      const env = { BOX_QC_STORE: b.location };
      const r = await runCli(['status', '--json'], { env });
      expect(r.code, describeResult(r)).toBe(0);
      const report = JSON.parse(r.stdout) as { users: Array<{ email: string; updated_at: string }> };
      expect(report.users.map((u) => u.email)).toEqual(Array.from({ length: 2345 }, (_, i) => email(i)));
      expect(r.stdout).toBe(`${JSON.stringify(report, null, 2)}\n`);
      const one = await runCli(['status', '--json', '--email', email(1234)], { env });
      expect(one.code, describeResult(one)).toBe(0);
      const entry = (JSON.parse(one.stdout) as { users: Array<{ email: string; updated_at: string }> }).users[0];
      expect(entry).toMatchObject({ email: email(1234), updated_at: report.users[1234]!.updated_at });
      expect(r.stdout).not.toMatch(/"a1234"|"r1234"/);
      await b.cleanup();
    },
    120_000,
  );

  it.skipIf(skip)(
    'an empty store: "users": [] exactly as before',
    async () => {
      const b = await backend.create();
      const r = await runCli(['status', '--json'], { env: { BOX_QC_STORE: b.location } });
      expect(r.code, describeResult(r)).toBe(0);
      expect(r.stdout).toContain('\n  "users": [],\n');
      expect(r.stdout).toBe(`${JSON.stringify(JSON.parse(r.stdout), null, 2)}\n`);
      await b.cleanup();
    },
    60_000,
  );
});
