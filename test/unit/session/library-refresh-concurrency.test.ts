/**
 * One default for refresh concurrency (issue 16 item 1): `refreshUsers` without `concurrency` keeps as many
 * refresh POSTs in flight as `box-qc refresh --all` without `--concurrency` (the library once said 16 while the
 * CLI had moved to 32, measured in BENCHMARKS.md).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../../../src/cli.js';
import { createSession, refreshUsers } from '../../../src/index.js';
import { fakeDeps } from '../../helpers/fake-deps.js';
import { json, startLocalServer } from '../http/local-server.js';
import { memoryStore } from './memory-store.js';
import { GOOD, user } from './session-kit.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** The default commander shows in `refresh --help` for --concurrency. */
async function cliDefaultConcurrency(): Promise<number> {
  const f = fakeDeps();
  await run(['refresh', '--help'], f.deps);
  const match = /--concurrency <n>[\s\S]*?\(default:\s*(\d+)\)/.exec(f.stdout.text);
  if (!match) throw new Error(`no --concurrency default in:\n${f.stdout.text}`);
  return Number(match[1]);
}

describe('refreshUsers concurrency', () => {
  it("defaults to the CLI's --concurrency default", async () => {
    const expected = await cliDefaultConcurrency();
    const users = 60;
    let inFlight = 0;
    let peak = 0;
    const server = await startLocalServer((_req, n) => (req, res) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      setTimeout(() => {
        inFlight -= 1;
        json(200, GOOD(n + 2))(req, res);
      }, 150);
    });
    cleanups.push(server.close);
    const emails = Array.from({ length: users }, (_, i) => `u${i}@x.com`);
    const store = memoryStore({ version: 1, users: Object.fromEntries(emails.map((e) => [e, user()])) });
    const session = await createSession({
      store,
      env: { BOX_CLIENT_ID: 'cid', BOX_CLIENT_SECRET: 'sec' },
      apiBaseUrl: server.url.href,
    });
    cleanups.push(() => session.close());
    const { outcomes } = await refreshUsers(session, { force: true });
    expect(outcomes.filter((o) => o.status === 'refreshed')).toHaveLength(users);
    expect(peak).toBe(expected);
  });
});
