/**
 * Runs the built binary with stdout and stderr pointed at hostile places (issue 15 item 1): /dev/full, a file
 * on a full file system, or a pipe whose reader has already gone. What is still captured (a 'pipe' side) is
 * returned for assertions.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { BIN, cleanEnv, type CliResult } from './run-cli.js';
import { assertDistFresh } from './dist-fresh.js';

/** 'pipe': captured; 'closed': a pipe whose reader exits first (EPIPE); a path: opened for appending. */
export type Sink = 'pipe' | 'closed' | { path: string };

export function runWithSinks(
  args: string[],
  env: Record<string, string>,
  sinks: { stdout: Sink; stderr: Sink },
  timeoutMs = 120_000,
): Promise<CliResult> {
  assertDistFresh();
  const opened: number[] = [];
  const stdio = (s: Sink): 'pipe' | number => {
    if (s === 'pipe' || s === 'closed') return 'pipe';
    const fd = openSync(s.path, 'a');
    opened.push(fd);
    return fd;
  };
  const child = spawn(process.execPath, [BIN, ...args], {
    env: cleanEnv(env),
    stdio: ['ignore', stdio(sinks.stdout), stdio(sinks.stderr)],
  });
  for (const fd of opened) closeSync(fd);
  let stdout = '';
  let stderr = '';
  const take = (stream: NodeJS.ReadableStream | null, sink: Sink, add: (d: string) => void) => {
    if (!stream) return;
    // The reader exits first: our end of the pipe closes before the child writes anything.
    if (sink === 'closed') (stream as unknown as { destroy(): void }).destroy();
    else stream.setEncoding('utf8').on('data', add);
  };
  take(child.stdout, sinks.stdout, (d) => (stdout += d));
  take(child.stderr, sinks.stderr, (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A Node stack frame line: what a user must never see without --debug. */
export const STACK_FRAME = /^\s+at .+[:(]/m;
