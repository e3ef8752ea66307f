/**
 * The entry module: builds the real dependencies, runs the program and sets process.exitCode. The only
 * module that sets process.exitCode; process.exit is called here (once the output is flushed) and in
 * process-signals.ts, which main.ts installs (leaving with 128+n after a signal). Commands never exit.
 */
import { closeSync, fstatSync, openSync } from 'node:fs';
import { homedir } from 'node:os';
import { run } from './cli.js';
import type { Deps } from './deps.js';
import { exitWhenFlushed } from './io/exit-flush.js';
import { createFdStream } from './io/fd-stream.js';
import type { OutStream } from './io/output.js';
import { installProcessInterrupts } from './process-signals.js';

/**
 * The first stdout write failure, if any. Output is best-effort (issue 15 item 1): a failed write never
 * throws, so the work in progress (a refresh between its POST and its save) always finishes; but data the
 * user asked for that could not be written (ENOSPC, EBADF, EIO) makes a successful run exit 1. A reader that
 * went away (EPIPE, `box-qc ls | head`) had what it wanted: the run keeps its own exit code.
 */
let stdoutError: string | undefined;
const dataLost = () => stdoutError !== undefined && stdoutError !== 'EPIPE';

function realStreams(): { stdout: OutStream; stderr: OutStream } {
  // Plain write(2) to a file or /dev/null: process.stdout/stderr cost 2-4 ms to create (io/fd-stream.ts).
  // A pipe, socket or terminal is written asynchronously: a reader that stops reading can no longer freeze
  // a refresh (REVIEW-2 finding 2). 4 MiB of stderr lines wait for it; later ones are dropped and counted.
  // A failing stderr (a full log disk, a closed pipe) only costs its lines.
  const stderr = createFdStream({
    fd: 2,
    stream: () => process.stderr,
    maxQueuedBytes: 4 * 1024 * 1024,
    onWriteError(code) {
      if (code === 'EIO' && process.stderr.isTTY) process.once('exit', detachDeadTerminal);
    },
  });
  const stdout = createFdStream({
    fd: 1,
    stream: () => process.stdout,
    onWriteError(code) {
      stdoutError = code;
      // A real stream can fail after run() has settled (its buffered rest): the exit code follows.
      if (dataLost() && (process.exitCode === undefined || process.exitCode === 0)) process.exitCode = 1;
    },
  });
  return { stdout, stderr };
}

function realDeps({ stdout, stderr }: { stdout: OutStream; stderr: OutStream }): Deps {
  return {
    env: process.env,
    // A getter: process.stdin builds a stream (tty or pipe) on first access, ~2 ms that most commands never need.
    get stdin() {
      return process.stdin;
    },
    stdout,
    stderr,
    homeDir: homedir(),
    now: () => Date.now(),
    async openBrowser(url) {
      const { default: open } = await import('open');
      const child = await open(url, { wait: false });
      // `open` resolves before the opener runs; report a failed spawn instead of hiding it.
      await new Promise<void>((resolve, reject) => {
        child.once('error', reject);
        child.once('spawn', () => resolve());
        if (child.pid !== undefined) resolve();
      });
      child.unref();
    },
    // Output still queued at a forced exit may sit in a write to a stalled pipe (process-signals.ts).
    interrupts: installProcessInterrupts(
      (line) => stderr.write(`${line}\n`),
      () => (stdout.writableLength ?? 0) > 0 || (stderr.writableLength ?? 0) > 0,
    ),
    pid: process.pid,
    hasDisplay: () =>
      process.platform === 'darwin' ||
      process.platform === 'win32' ||
      Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY),
  };
}

/**
 * The terminal went away under us (EIO: an SSH session or a window closed without SIGHUP reaching us). The
 * work is done and saved, but Node 20 then aborts at exit (SIGABRT, exit 134) because it cannot restore that
 * terminal's modes (nodejs/node#51519, fixed by nodejs/node#58200 in later lines). Node skips a descriptor
 * that no longer refers to the file it saw at start-up, so the dead terminal's descriptors are pointed at
 * /dev/null (close, then open takes the lowest free number: the same one). Runs in 'exit': nothing writes after.
 */
function detachDeadTerminal(): void {
  try {
    const dead = fstatSync(2).rdev;
    for (const fd of [0, 1, 2]) {
      if (fstatSync(fd).rdev !== dead) continue;
      closeSync(fd);
      const again = openSync('/dev/null', fd === 0 ? 'r' : 'w');
      if (again !== fd) closeSync(again);
    }
  } catch {
    // Best-effort: at worst Node's own abort, after everything was saved.
  }
}

// No top-level await: the CLI bundle is CommonJS (faster to load than an ES module; see scripts/bundle.mjs).
// run() never rejects: every error becomes an exit code inside it. Then stdout is written to the end and a
// stalled stderr abandoned after a short grace (io/exit-flush.ts).
const streams = realStreams();
void run(process.argv.slice(2), realDeps(streams)).then((code) => {
  process.exitCode = code === 0 && dataLost() ? 1 : code;
  exitWhenFlushed(streams.stdout, streams.stderr, () => process.exit());
});
