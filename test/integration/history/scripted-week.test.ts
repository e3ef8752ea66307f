/**
 * Issue 18 "Done when": `history` after a scripted week tells the story of a user who degraded, died and
 * reconnected. In process (run(argv, deps)) so that box-qc's clock IS the emulator's clock: the emulator's
 * time is moved a day at a time and every history line carries that day. Refresh tokens live 3 days here
 * (Box: 60), so two days of failed refreshes (a 503, then a 429) are enough to lose the connection.
 *
 * The `transition` lines (healthy -> degraded -> dead -> healthy) sit beside the events that caused them.
 * The README "Monitoring" section shows this test's output.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../../../src/cli.js';
import { startEmulator, type Emulator } from '../../../src/emulator/index.js';
import { fakeDeps } from '../../helpers/fake-deps.js';
import { consent } from '../../e2e/connect-helpers.js';

const EMAIL = 'alice@example.com';
const DAY = 86_400_000;
let emu: Emulator;
let storePath: string;
beforeEach(async () => {
  emu = await startEmulator({ autoApprove: false, refreshTokenTtlSeconds: 3 * 86_400 });
  storePath = join(await mkdtemp(join(tmpdir(), 'boxqc-week-')), 'box-qc', 'tokens.json');
});
afterEach(async () => emu.close());

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const f = fakeDeps({
    env: { ...emu.env(), BOX_QC_STORE: storePath, BOX_REDIRECT_URI: 'http://127.0.0.1:53117/callback' },
    now: () => emu.clock.now(),
  });
  const code = await run(argv, f.deps);
  return { code, stdout: f.stdout.text, stderr: f.stderr.text };
}

async function connect(): Promise<void> {
  const first = await cli(['connect', '--email', EMAIL, '--print-url']);
  expect(first.code, first.stderr).toBe(0);
  const location = await consent(first.stdout.trim());
  const second = await cli(['connect', '--email', EMAIL, '--redirected-url', location]);
  expect(second.code, second.stderr).toBe(0);
}

async function cron(expected: number): Promise<void> {
  const r = await cli(['refresh', '--all']);
  expect(r.code, r.stderr).toBe(expected);
}

describe('a scripted week in the history', () => {
  it('tells the story of a user who degraded, died and reconnected', async () => {
    await connect(); // day 0
    emu.clock.advance(DAY);
    await cron(0); // day 1: refreshed
    emu.faults.add({ route: '/oauth2/token', grantType: 'refresh_token', action: 'status', status: 503, times: 1 });
    emu.clock.advance(DAY);
    await cron(75); // day 2: Box answers 503 (it may have rotated: the next run replays that refresh)
    emu.faults.add({ route: '/oauth2/token', grantType: 'refresh_token', action: 'status', status: 429, times: 1 });
    emu.clock.advance(DAY);
    await cron(75); // day 3: 429 (Box did not rotate: the in-flight marker goes)
    emu.clock.advance(DAY + 3_600_000);
    await cron(4); // day 4: the refresh token issued on day 1 is 3 days old: Box says it expired
    emu.clock.advance(3_600_000);
    await cron(4); // still dead an hour later: no POST, no new line
    emu.clock.advance(DAY);
    await connect(); // day 5: the operator reconnects
    emu.clock.advance(DAY);
    await cron(0); // day 6: healthy again

    const h = await cli(['history', '--email', EMAIL]);
    expect(h.code, h.stderr).toBe(0);
    const lines = h.stdout.trimEnd().split('\n');
    const story = lines.map((l) => {
      const [time, event, email, outcome] = l.split(/\s{2,}/);
      return [Date.parse(time!.slice(0, 20)), event, email, outcome?.split(' ')[0]] as const;
    });
    // The instant of each line: day n of the script plus the hours it added (day 4 came an hour late, day 5
    // two), plus the real time the script took so far (the emulator's clock runs on between advances: a line
    // may carry a later second than the first one did). Whole instants, not calendar dates: those moved to the
    // next date when the test ran after 22:00 UTC.
    const HOUR = 3_600_000;
    const t0 = story[0]![0];
    const day = (n: number) => n * DAY + (n >= 5 ? 2 : n === 4 ? 1 : 0) * HOUR;
    const expected: Array<[number, string, string]> = [
      [0, 'connect', 'connected'],
      [1, 'refresh', 'refreshed'],
      [2, 'transition', 'degraded'],
      [2, 'refresh', 'temporary'],
      [3, 'refresh', 'temporary'],
      [4, 'transition', 'dead'],
      [4, 'refresh', 'dead'],
      [5, 'connect', 'reconnected'],
      [5, 'transition', 'healthy'],
      [6, 'refresh', 'refreshed'],
    ];
    // The story, with each change of state (issue 18) beside the event that caused it.
    expect(
      story.map(([, event, email, outcome]) => [event, email, outcome]),
      h.stdout,
    ).toEqual(expected.map(([, event, outcome]) => [event, EMAIL, outcome]));
    story.forEach(([time], i) => {
      const late = time - t0 - day(expected[i]![0]);
      expect(late >= 0 && late < 60_000, `line ${i + 1} is ${late} ms off its day: ${h.stdout}`).toBe(true);
    });
    expect(lines[3]).toContain('(E_BOX_TEMPORARY HTTP 503)');
    expect(lines[4]).toContain('(E_BOX_TEMPORARY HTTP 429)');
    expect(lines[6]).toContain('refresh_token_expired');
    expect(lines[2]).toContain('healthy -> degraded');
    expect(lines[5]).toContain('-> dead');
    expect(lines[8]).toContain('dead -> healthy');
    // Never a token: nothing in the log even looks like one of Box's 32-character tokens.
    const { readFile } = await import('node:fs/promises');
    const log = await readFile(join(storePath, '..', 'tokens.history.jsonl'), 'utf8');
    expect(log.split('\n').filter(Boolean)).toHaveLength(10);
    expect(log).not.toMatch(/[A-Za-z0-9]{32}/);
    const latest = emu.latestTokens(EMAIL)!;
    expect(log).not.toContain(latest.refresh_token);
    const week = await cli(['history', '--email', EMAIL, '--since', '3d', '--json']);
    expect((JSON.parse(week.stdout) as { events: unknown[] }).events).toHaveLength(5);
  });
});
