/**
 * scripts/pg-stand-in.mjs (issue 20): the stand-in PostgreSQL server the build's code-cache runs use still
 * answers what a PostgreSQL `token --email E` and `status --json --email E` send. If box-qc's statements change
 * so that it no longer does, the build only warns (the cache is an optimisation): this test says so instead.
 */
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a build script in plain JavaScript, without type declarations
import { freshRecord, startPgStandIn } from '../../../scripts/pg-stand-in.mjs';
import { describeResult, runCli } from '../../helpers/run-cli.js';
import { requireBuild } from '../../helpers/store-procs.js';

const start = startPgStandIn as (record: object) => Promise<{ url: string; close(): void }>;
const fresh = freshRecord as (login: string) => object;

describe('the code-cache PostgreSQL stand-in', () => {
  it('serves a PostgreSQL token and status run of the built binary', async () => {
    requireBuild();
    const standIn = await start(fresh('cache@example.com'));
    try {
      const env = { BOX_QC_STORE: standIn.url, BOX_CLIENT_ID: 'id', BOX_CLIENT_SECRET: 'secret' };
      const token = await runCli(['token', '--email', 'cache@example.com'], { env, timeoutMs: 30_000 });
      expect(token.code, describeResult(token)).toBe(0);
      expect(token.stdout.trim()).toBe('a'.repeat(32));
      const status = await runCli(['status', '--json', '--email', 'cache@example.com'], { env, timeoutMs: 30_000 });
      expect(status.code, describeResult(status)).toBe(0);
      expect(JSON.parse(status.stdout).users[0]).toMatchObject({ email: 'cache@example.com' });
    } finally {
      standIn.close();
    }
  }, 60_000);
});
