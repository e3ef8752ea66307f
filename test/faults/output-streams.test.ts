/**
 * Fault suite, issue 15 item 1: output streams on a full disk and on a closed pipe, for every command. stdout
 * and stderr each go to /dev/full, to a file on a full tmpfs, and to a pipe whose reader has already exited.
 * Whatever happens to the output: 0 users lost (every stored pair is the newest one Box issued and still
 * refreshes), no stack trace, and the documented exit code:
 *   - stderr fails: the command's own exit code (output to humans is best-effort);
 *   - stdout fails with ENOSPC (data the user asked for did not arrive): exit 1, quietly; a command that
 *     writes nothing to stdout keeps its own code;
 *   - stdout's reader went away (EPIPE, `| head`): the command's own exit code.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeResult, type CliResult } from '../helpers/run-cli.js';
import { runWithSinks, STACK_FRAME, type Sink } from '../helpers/run-cli-stdio.js';
import { refreshCount, startLab, type Lab } from '../e2e/refresh-fixtures.js';
import { emptyRow, recordRow, rowOk } from './helpers/ledger.js';
import { fillDisk, mountTmpfs, tmpfsUnavailable, unmount } from './helpers/tmpfs.js';

const USERS = ['a@example.com', 'b@example.com', 'c@example.com'];

interface Case {
  name: string;
  args(lab: Lab, scratch: string): string[];
  /** Writes data to stdout (so a full stdout is exit 1). */
  data: boolean;
  /** The emails this command removes on purpose. */
  removes?: string[];
  /** Refresh POSTs the command makes (expired access tokens: token, ls, refresh refresh first). */
  refreshes: number;
}

const CASES: Case[] = [
  {
    name: 'connect --print-url',
    args: () => ['connect', '--email', 'new@example.com', '--print-url'],
    data: true,
    refreshes: 0,
  },
  { name: 'status', args: () => ['status'], data: true, refreshes: 0 },
  { name: 'status --json', args: () => ['status', '--json'], data: true, refreshes: 0 },
  { name: 'token', args: () => ['token', '--email', 'a@example.com'], data: true, refreshes: 1 },
  { name: 'ls', args: () => ['ls', '0', '--email', 'a@example.com'], data: true, refreshes: 1 },
  { name: 'refresh', args: () => ['refresh', '--email', 'a@example.com'], data: false, refreshes: 1 },
  { name: 'refresh --all --force', args: () => ['refresh', '--all', '--force'], data: false, refreshes: USERS.length },
  {
    name: 'refresh --all --force --json',
    args: () => ['refresh', '--all', '--force', '--json'],
    data: true,
    refreshes: USERS.length,
  },
  {
    name: 'disconnect',
    args: () => ['disconnect', '--email', 'a@example.com'],
    data: false,
    removes: ['a@example.com'],
    refreshes: 0,
  },
  {
    name: 'store migrate',
    args: (lab, scratch) => [
      'store',
      'migrate',
      '--from',
      lab.storePath,
      '--to',
      join(scratch, `copy-${Date.now()}.json`),
    ],
    data: true,
    refreshes: 0,
  },
  { name: '--help', args: () => ['--help'], data: true, refreshes: 0 },
  { name: '--version', args: () => ['--version'], data: true, refreshes: 0 },
];

let scratch: string;
let fullLog: string | undefined;
let skipTmpfs: string | undefined;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'boxqc-outstreams-'));
  skipTmpfs = await tmpfsUnavailable(scratch);
  if (skipTmpfs) return;
  const mnt = join(scratch, 'logdisk');
  await mountTmpfs(mnt, '64k');
  fullLog = join(mnt, 'box-qc.log');
  await writeFile(fullLog, '');
  await fillDisk(mnt);
});
afterAll(async () => {
  if (fullLog) await unmount(join(scratch, 'logdisk'));
  await rm(scratch, { recursive: true, force: true });
});

/** Users whose stored pair is missing, not the newest one issued, or no longer live at the emulator. */
async function lostUsers(lab: Lab, expected: string[]): Promise<string[]> {
  const doc = await lab.readStore();
  return expected.filter((email) => {
    const u = doc.users[email];
    return !u || !lab.emu.isLive(u.refresh_token) || lab.emu.latestTokens(email)?.refresh_token !== u.refresh_token;
  });
}

function expectedExit(c: Case, broken: 'stdout' | 'stderr', sink: 'full' | 'tmpfs' | 'closed'): number {
  if (broken === 'stdout' && sink !== 'closed' && c.data) return 1;
  return 0;
}

type SinkKind = 'full' | 'tmpfs' | 'closed';
const sinkFor = (kind: SinkKind): Sink =>
  kind === 'closed' ? 'closed' : { path: kind === 'full' ? '/dev/full' : fullLog! };

describe.skipIf(process.platform !== 'linux')(
  'output streams on a full disk and a closed pipe, every command (issue 15 item 1)',
  () => {
    for (const broken of ['stdout', 'stderr'] as const) {
      for (const kind of ['full', 'tmpfs', 'closed'] as const) {
        it(`${broken} on ${kind === 'full' ? '/dev/full' : kind === 'tmpfs' ? 'a full tmpfs file' : 'a closed pipe'}: 0 users lost, no stack trace, documented exit code`, async (t) => {
          if (kind === 'tmpfs' && skipTmpfs) t.skip(skipTmpfs);
          const row = emptyRow(`output streams: ${broken} on ${kind}`);
          const problems: string[] = [];
          for (const c of CASES) {
            const lab = await startLab();
            try {
              await lab.mintAndSeed(USERS, { expired: true });
              lab.emu.faults.add({ route: '/oauth2/token', action: 'latency', ms: 50 });
              const sinks =
                broken === 'stdout'
                  ? { stdout: sinkFor(kind), stderr: 'pipe' as const }
                  : { stdout: 'pipe' as const, stderr: sinkFor(kind) };
              const r: CliResult = await runWithSinks(c.args(lab, scratch), lab.env(), sinks);
              row.iterations += 1;
              const want = expectedExit(c, broken, kind);
              if (r.code !== want) problems.push(`${c.name}: exit ${r.code}, expected ${want}\n${describeResult(r)}`);
              if (STACK_FRAME.test(r.stdout + r.stderr) || /node:internal|uncaught/i.test(r.stdout + r.stderr))
                problems.push(`${c.name}: stack trace\n${describeResult(r)}`);
              if (refreshCount(lab) !== c.refreshes)
                problems.push(`${c.name}: ${refreshCount(lab)} refresh POSTs, expected ${c.refreshes}`);
              const lost = await lostUsers(
                lab,
                USERS.filter((u) => !c.removes?.includes(u)),
              );
              row.lost += lost.length;
              if (lost.length > 0) row.lostWhy.silent = (row.lostWhy.silent ?? 0) + lost.length;
              if (lost.length > 0) problems.push(`${c.name}: lost ${lost.join(', ')}\n${describeResult(r)}`);
            } finally {
              await lab.close();
            }
          }
          row.unexplained = row.lost;
          row.failed = problems.length - row.lost;
          recordRow(row);
          expect(problems, problems.join('\n\n')).toEqual([]);
          expect(rowOk(row)).toBe(true);
        });
      }
    }

    it("the README's cron line on a full log disk: refresh --all --force over 60 users with 300 ms token latency keeps every user, exit 0", async (t) => {
      if (skipTmpfs) t.skip(skipTmpfs);
      const row = emptyRow('output streams: refresh --all, 60 users, log disk full');
      const lab = await startLab();
      try {
        const logins = Array.from({ length: 60 }, (_, i) => `u${String(i).padStart(2, '0')}@example.com`);
        await lab.mintAndSeed(logins);
        lab.emu.faults.add({ route: '/oauth2/token', action: 'latency', ms: 300 });
        // `>>/var/log/box-qc.log 2>&1`: both streams on the full file.
        const r = await runWithSinks(['refresh', '--all', '--force'], lab.env(), {
          stdout: { path: fullLog! },
          stderr: { path: fullLog! },
        });
        row.iterations = logins.length;
        const lost = await lostUsers(lab, logins);
        row.lost = lost.length;
        row.unexplained = lost.length;
        row.failed = (r.code === 0 ? 0 : 1) + (refreshCount(lab) === logins.length ? 0 : 1);
        recordRow(row);
        expect(r.code, describeResult(r)).toBe(0);
        expect(lost).toEqual([]);
        expect(refreshCount(lab)).toBe(logins.length);
      } finally {
        await lab.close();
      }
    });
  },
);
