/**
 * The entry module: builds the real dependencies, runs the program and sets process.exitCode. The only
 * module that touches process.exit / process.exitCode.
 */
import { homedir } from 'node:os';
import { run } from './cli.js';
import type { Deps } from './deps.js';
import { createFdStream } from './io/fd-stream.js';
import { installProcessInterrupts } from './process-signals.js';

function realDeps(): Deps {
  // Plain write(2) unless a terminal: process.stdout/stderr cost 2-4 ms to create (io/fd-stream.ts).
  const stderr = createFdStream({ fd: 2, stream: () => process.stderr, onBrokenPipe: () => {} });
  return {
    env: process.env,
    // A getter: process.stdin builds a stream (tty or pipe) on first access, ~2 ms that most commands never need.
    get stdin() {
      return process.stdin;
    },
    stdout: createFdStream({ fd: 1, stream: realStdout, onBrokenPipe: exitOnBrokenPipe }),
    stderr,
    homeDir: homedir(),
    now: () => Date.now(),
    loadEnvFile: (path) => process.loadEnvFile(path),
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
    interrupts: installProcessInterrupts((line) => stderr.write(`${line}\n`)),
    pid: process.pid,
    hasDisplay: () =>
      process.platform === 'darwin' || process.platform === 'win32' || Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY),
  };
}

// EPIPE on stdout (`box-qc ls | head`) is not an error worth a stack trace: the reader has what it wanted.
function exitOnBrokenPipe(): void {
  process.exit(process.exitCode ?? 0);
}

function realStdout(): NodeJS.WriteStream {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') exitOnBrokenPipe();
    throw err;
  });
  return process.stdout;
}

// No top-level await: the CLI bundle is CommonJS (faster to load than an ES module; see scripts/bundle.mjs).
// run() never rejects: every error becomes an exit code inside it.
void run(process.argv.slice(2), realDeps()).then((code) => {
  process.exitCode = code;
});
