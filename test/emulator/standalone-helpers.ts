/** Starts `box-qc emulator` (the built binary) as a child process and waits for its base URL on stdout. */
import { startCli, type CliResult } from '../helpers/run-cli.js';
import type { ChildProcess } from 'node:child_process';

export interface StandaloneEmulator {
  child: ChildProcess;
  url: string;
  lines: string[];
  done: Promise<CliResult>;
}

export async function startStandalone(args: string[]): Promise<StandaloneEmulator> {
  const { child, done } = startCli(['emulator', ...args], { timeoutMs: 120_000 });
  child.stdin!.end();
  let out = '';
  const lines = await new Promise<string[]>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer | string) => {
      out += String(d);
      const ls = out.split('\n');
      if (ls.length > 5) resolve(ls);
    });
    done.then((r) => reject(new Error(`emulator exited early: ${r.code}\n${r.stderr}`)), reject);
  });
  return { child, url: lines[0]!, lines, done };
}

export async function control<T>(url: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${url}/__emulator/${path}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`control ${method} ${path}: ${res.status}`);
  return (await res.json()) as T;
}
