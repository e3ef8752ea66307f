/**
 * Fault suite, REVIEW-2 finding 2: output that blocks must not freeze a refresh. stderr goes to a pipe that
 * nobody reads (a stalled `2>&1 | logger`, Docker's blocking log mode): a FIFO this test holds open for
 * reading and writing but never reads, so its 64 KiB fill up and every further write(2) would block. A
 * blocking write there stops the event loop: answers waiting in sockets are never read, rotated pairs never
 * saved. Whatever stderr does, every user is saved while the process is still stuck with its output, the
 * stored pairs are the ones the emulator issued last (0 users lost), and the process still ends on its own
 * (a stalled stderr is abandoned shortly after the work is done, so cron never hangs).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, read, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, cleanEnv } from '../helpers/run-cli.js';
import { refreshCount, startLab, type Lab } from '../e2e/refresh-fixtures.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A FIFO held open (O_RDWR: it always has a reader, so no EPIPE) and never read. */
function stalledPipe(): number {
  const dir = mkdtempSync(join(tmpdir(), 'boxqc-stall-'));
  const path = join(dir, 'stderr.fifo');
  execFileSync('mkfifo', [path]);
  const fd = openSync(path, 'r+');
  cleanup.push(async () => {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  });
  return fd;
}

/**
 * Users whose rotation is not (yet) saved. The emulator counts a POST when it arrives and rotates after its
 * latency, so "live and latest" alone would pass a user whose POST is still being held; the seeded refresh
 * token must also have been replaced (--force refreshes every user exactly once) and no marker be left.
 */
async function lostUsers(lab: Lab, emails: string[], seeded: Map<string, string>): Promise<string[]> {
  const doc = await lab.readStore();
  return emails.filter((e) => {
    const u = doc.users[e];
    if (!u || u.refresh_token === seeded.get(e) || u.refresh_in_flight !== undefined) return true;
    return !lab.emu.isLive(u.refresh_token) || lab.emu.latestTokens(e)?.refresh_token !== u.refresh_token;
  });
}

/** Why each lost user counts as lost, for the failure message (no token values). */
async function whyLost(lab: Lab, lost: string[]): Promise<string> {
  const doc = await lab.readStore();
  return lost
    .slice(0, 5)
    .map((e) => {
      const u = doc.users[e];
      if (!u) return `${e}: not in the store`;
      return `${e}: stored pair live=${lab.emu.isLive(u.refresh_token)}, latest issued=${lab.emu.latestTokens(e)?.refresh_token === u.refresh_token}, marker=${JSON.stringify(u.refresh_in_flight ?? null)}`;
    })
    .join('; ');
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

async function stalledRun(users: number, args: string[], stdoutFd?: number) {
  const lab = await startLab({ rotation: 'strict' });
  cleanup.push(() => lab.close());
  const emails = Array.from({ length: users }, (_, i) => `u${i}@example.com`);
  await lab.mintAndSeed(emails);
  const seededDoc = await lab.readStore();
  const seeded = new Map(emails.map((e) => [e, seededDoc.users[e]!.refresh_token]));
  lab.emu.faults.add({ route: '/oauth2/token', action: 'latency', ms: 50 });
  // stdout goes to a file unless the test stalls it too, so a failure can show what box-qc said per user.
  const outDir = mkdtempSync(join(tmpdir(), 'boxqc-stall-out-'));
  const outPath = join(outDir, 'stdout');
  const outFd = stdoutFd ?? openSync(outPath, 'w');
  cleanup.push(async () => rmSync(outDir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [BIN, ...args], {
    env: cleanEnv(lab.env()),
    stdio: ['ignore', outFd, stalledPipe()],
  });
  if (stdoutFd === undefined) closeSync(outFd);
  const gone = exited(child);
  cleanup.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await gone;
  });
  // Every POST answered and every pair saved, while stderr has not been read at all.
  const deadline = Date.now() + 40_000;
  let lost = emails;
  let stuckWhenSaved = false;
  while (Date.now() < deadline) {
    await sleep(250);
    if (refreshCount(lab) < users) continue;
    const stuck = child.exitCode === null && child.signalCode === null;
    lost = await lostUsers(lab, emails, seeded);
    stuckWhenSaved = stuck;
    if (lost.length === 0) break;
  }
  lost = await lostUsers(lab, emails, seeded);
  const explain = async () => {
    const said =
      stdoutFd === undefined
        ? readFileSync(outPath, 'utf8')
            .split('\n')
            .filter((l) => lost.slice(0, 5).some((e) => l.includes(e)))
        : [];
    return `users whose rotated pair was not saved (${lost.length}; exit ${child.exitCode} ${child.signalCode}): ${await whyLost(lab, lost)}; box-qc said: ${said.join(' | ')}`;
  };
  return { lab, emails, child, gone, lost, stuckWhenSaved, explain };
}

describe.skipIf(process.platform !== 'linux')('stderr to a pipe nobody reads (REVIEW-2 finding 2)', () => {
  it('--debug refresh --all --force: every user saved while stderr is stalled, 0 users lost, the process still exits 0', async () => {
    const r = await stalledRun(500, ['--debug', 'refresh', '--all', '--force', '--concurrency', '8']);
    expect(r.lost.length, await r.explain()).toBe(0);
    expect(refreshCount(r.lab), 'one refresh POST per user').toBe(r.emails.length);
    expect(r.stuckWhenSaved, 'the process was still held by its unread stderr when every pair was saved').toBe(true);
    // A stalled stderr is abandoned a short while after the work is done: cron never hangs on it.
    const end = await Promise.race([r.gone, sleep(20_000).then(() => 'still running' as const)]);
    expect(end).toEqual({ code: 0, signal: null });
  });

  it('refresh --all --force, result lines only: every user saved, 0 users lost', async () => {
    const r = await stalledRun(1500, ['refresh', '--all', '--force', '--concurrency', '8']);
    expect(r.lost.length, await r.explain()).toBe(0);
    expect(refreshCount(r.lab), 'one refresh POST per user').toBe(r.emails.length);
    const end = await Promise.race([r.gone, sleep(20_000).then(() => 'still running' as const)]);
    expect(end).toEqual({ code: 0, signal: null });
  });

  it('refresh --all --force --json with stdout and stderr both unread: all saved, then the whole JSON document once stdout is read, exit 0', async () => {
    const out = stalledPipe();
    const r = await stalledRun(500, ['--debug', 'refresh', '--all', '--force', '--json', '--concurrency', '8'], out);
    expect(r.lost.length, await r.explain()).toBe(0);
    await sleep(3_000); // past the stderr grace: stdout data is still never abandoned
    // Now a reader comes: everything arrives, in order, and the process ends with its own code.
    let text = '';
    let doc: { users?: unknown[]; results?: unknown[] } | undefined;
    const deadline = Date.now() + 20_000;
    while (doc === undefined && Date.now() < deadline) {
      const buf = Buffer.alloc(65_536);
      const n = await new Promise<number>((resolve, reject) =>
        read(out, buf, 0, buf.length, null, (e, k) => (e ? reject(e) : resolve(k))),
      );
      text += buf.subarray(0, n).toString('utf8');
      try {
        doc = JSON.parse(text);
      } catch {
        // not complete yet
      }
    }
    expect(doc, `stdout so far: ${text.length} bytes`).toBeDefined();
    const end = await Promise.race([r.gone, sleep(20_000).then(() => 'still running' as const)]);
    expect(end).toEqual({ code: 0, signal: null });
  });
});
