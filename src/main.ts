/**
 * The entry module: builds the real dependencies, runs the program and sets process.exitCode. The only
 * module that touches process.exit / process.exitCode.
 */
import { homedir } from 'node:os';
import { run } from './cli.js';
import type { Deps } from './deps.js';
import { installProcessInterrupts } from './process-signals.js';

function realDeps(): Deps {
  return {
    env: process.env,
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
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
    interrupts: installProcessInterrupts((line) => process.stderr.write(`${line}\n`)),
    pid: process.pid,
    hasDisplay: () =>
      process.platform === 'darwin' || process.platform === 'win32' || Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY),
  };
}

// EPIPE on stdout (`box-qc ls | head`) is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

process.exitCode = await run(process.argv.slice(2), realDeps());
