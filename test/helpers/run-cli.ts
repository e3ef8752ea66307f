/**
 * Spawns the built binary (bin/box-qc.js -> dist/) as a user would. Always async: the emulator usually
 * runs in the test process, so a sync spawn would deadlock it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { assertDistFresh } from './dist-fresh.js';

export const BIN = fileURLToPath(new URL('../../bin/box-qc.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunCliOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  cwd?: string;
  timeoutMs?: number;
}

/** A clean environment: no inherited BOX_* variables, no colour, no CI spinners. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const base: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: 'C.UTF-8',
    NO_COLOR: '1',
    ...extra,
  };
  return Object.fromEntries(Object.entries(base).filter((e): e is [string, string] => e[1] !== undefined));
}

export function startCli(args: string[], opts: RunCliOptions = {}): { child: ChildProcess; done: Promise<CliResult> } {
  assertDistFresh();
  // `--` as in the bin's shebang: Node would otherwise act on a script argument named --env-file itself.
  const child = spawn(process.execPath, ['--', BIN, ...args], {
    env: cleanEnv(opts.env),
    cwd: opts.cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  if (opts.input !== undefined) child.stdin.end(opts.input);
  const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done };
}

export function runCli(args: string[], opts: RunCliOptions = {}): Promise<CliResult> {
  const { child, done } = startCli(args, opts);
  if (opts.input === undefined) child.stdin!.end();
  return done;
}

/** Formats a result for assertion messages: a failing test shows what the process printed. */
export function describeResult(r: CliResult): string {
  return `exit=${r.code} signal=${r.signal}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}
