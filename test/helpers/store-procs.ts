/**
 * Spawning test/helpers/store-worker.mjs (which loads the built dist/ store, either backend) for the
 * multi-process tests of the file store and of the store contract on both backends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { assertDistFresh } from './dist-fresh.js';

export const WORKER = fileURLToPath(new URL('./store-worker.mjs', import.meta.url));
const DIST_STORE = fileURLToPath(new URL('../../dist/core/store/index.js', import.meta.url));

export function requireBuild(): void {
  assertDistFresh();
  if (!existsSync(DIST_STORE))
    throw new Error(`${DIST_STORE} is missing: run \`npx tsc -p tsconfig.build.json\` first`);
}

export interface WorkerArgs {
  op: 'read' | 'save' | 'nest' | 'hold' | 'reserve';
  /** A file path or a postgres:// URL. */
  store: string;
  email: string;
  log?: string;
  rounds?: number;
  /** How long `nest` stays inside the lock each round (default 100 ms). */
  nestMs?: number;
  barrier?: string;
  lockWaitMs?: number;
}

export interface WorkerResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface WorkerRun {
  child: ChildProcess;
  /** Resolves when the worker printed `line` (READY, HELD). */
  printed(line: string): Promise<void>;
  done: Promise<WorkerResult>;
}

/** `prefix` runs the worker through another program, e.g. setpriv to become another user. */
export function startWorker(args: WorkerArgs, prefix: string[] = []): WorkerRun {
  assertDistFresh();
  const argv = [...prefix, process.execPath, WORKER, JSON.stringify(args)];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ line: string; resolve(): void }> = [];
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    for (const w of waiters) if (stdout.split('\n').includes(w.line)) w.resolve();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<WorkerResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return {
    child,
    done,
    printed: (line) =>
      new Promise<void>((resolve, reject) => {
        if (stdout.split('\n').includes(line)) return resolve();
        waiters.push({ line, resolve });
        void done.then((r) => reject(new Error(`worker exited before printing ${line}: ${JSON.stringify(r)}`)));
      }),
  };
}

/** Checks a `<pid` / `>pid` log: every open is immediately followed by the close of the same pid. */
export function nestingErrors(lines: string[]): string[] {
  const errors: string[] = [];
  for (let i = 0; i < lines.length; i += 2) {
    const open = lines[i] ?? '';
    const close = lines[i + 1] ?? '';
    if (!open.startsWith('<') || close !== `>${open.slice(1)}`) errors.push(`line ${i + 1}: ${open} then ${close}`);
  }
  return errors;
}
