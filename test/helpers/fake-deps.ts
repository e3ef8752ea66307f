/** In-process Deps for run(argv, deps): fake streams that capture output, a controllable clock. */
import { PassThrough } from 'node:stream';
import { run } from '../../src/cli.js';
import { createManualInterrupts, type Deps } from '../../src/deps.js';

export class CaptureStream {
  chunks: string[] = [];
  isTTY: boolean;
  constructor(isTTY = false) {
    this.isTTY = isTTY;
  }
  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return true;
  }
  get text(): string {
    return this.chunks.join('');
  }
}

export interface FakeDepsOptions {
  env?: Record<string, string | undefined>;
  homeDir?: string;
  stdoutTTY?: boolean;
  stderrTTY?: boolean;
  now?: () => number;
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  openBrowser?: (url: string) => Promise<void>;
}

export function fakeDeps(opts: FakeDepsOptions = {}) {
  const stdout = new CaptureStream(opts.stdoutTTY ?? false);
  const stderr = new CaptureStream(opts.stderrTTY ?? false);
  const env = { ...(opts.env ?? {}) };
  const interrupts = createManualInterrupts();
  const deps: Deps = {
    env,
    stdin: opts.stdin ?? Object.assign(new PassThrough(), { isTTY: false }),
    stdout,
    stderr,
    homeDir: opts.homeDir ?? '/nonexistent-home',
    now: opts.now ?? (() => Date.now()),
    openBrowser: opts.openBrowser ?? (async () => {}),
    interrupts,
    pid: process.pid,
    hasDisplay: () => false,
  };
  return { deps, stdout, stderr, env, interrupts };
}

export async function runInProcess(argv: string[], opts: FakeDepsOptions = {}) {
  const f = fakeDeps(opts);
  const exitCode = await run(argv, f.deps);
  return { exitCode, stdout: f.stdout.text, stderr: f.stderr.text, env: f.env };
}
