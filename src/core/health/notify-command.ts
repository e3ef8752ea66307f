/**
 * The notify command transport: `/bin/sh -c <command>` with one JSON event on stdin (issue 18). Its
 * environment is built from an allow-list, never inherited: the client secret, BOX_QC_* settings (the
 * notify secret, the store URL with its password, keys), PG* and anything token-like stay out. 10 s, then
 * its whole process group is killed (a shell script's children included). Its output is never passed
 * through: a bounded, escaped excerpt reaches --debug only.
 */
import { spawn } from 'node:child_process';

/** Copied from box-qc's environment when set; everything else is dropped. */
const ALLOWED = ['PATH', 'HOME', 'LANG', 'TZ', 'USER', 'LOGNAME', 'SHELL', 'TMPDIR'];
const OUTPUT_EXCERPT_BYTES = 2048;
export const NOTIFY_TIMEOUT_MS = 10_000;

export interface CommandEventFacts {
  event: string;
  id: string;
  email: string;
}

/** The notify command's whole environment: the allow-list, LC_*, and the event's name, id and email. */
export function notifyCommandEnv(
  env: Record<string, string | undefined>,
  facts: CommandEventFacts,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    if (ALLOWED.includes(k) || /^LC_[A-Z_]+$/.test(k)) out[k] = v;
  }
  out.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  out.BOX_QC_EVENT = facts.event;
  out.BOX_QC_EVENT_ID = facts.id;
  out.BOX_QC_EVENT_EMAIL = facts.email;
  return out;
}

export interface RunNotifyCommandOptions {
  command: string;
  body: string;
  env: Record<string, string>;
  timeoutMs?: number;
  /** Kills the command's process group (the CLI: process.kill(-pid, 'SIGKILL')); core has no `process`. */
  killGroup(pid: number): void;
  debug(line: string): void;
}

/** Control characters (C0, DEL, C1) shown as escapes: the excerpt is safe on a terminal and on one line. */
function escaped(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu, (ch) => {
    const code = ch.codePointAt(0) ?? 0;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Resolves when the command exited 0; rejects with a short, secret-free reason otherwise. */
export function runNotifyCommand(opts: RunNotifyCommandOptions): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? NOTIFY_TIMEOUT_MS;
  return new Promise<void>((resolve, reject) => {
    // detached: its own process group, so a timeout kills the script and whatever it started.
    const child = spawn('/bin/sh', ['-c', opts.command], { detached: true, env: opts.env, stdio: 'pipe' });
    let excerpt = '';
    const keep = (d: Buffer) => {
      if (excerpt.length < OUTPUT_EXCERPT_BYTES)
        excerpt += d.toString('utf8', 0, OUTPUT_EXCERPT_BYTES - excerpt.length);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    // A command that does not read its stdin (EPIPE) is its own business: only its exit status counts.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.body);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) opts.killGroup(child.pid);
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    const done = (err?: Error) => {
      clearTimeout(timer);
      // A grandchild that kept our pipes open must not keep this process alive.
      child.stdout.destroy();
      child.stderr.destroy();
      if (excerpt !== '') opts.debug(`notify command output: ${escaped(excerpt.trimEnd())}`);
      if (err) reject(err);
      else resolve();
    };
    child.on('error', (err: NodeJS.ErrnoException) =>
      done(new Error(`could not start /bin/sh (${err.code ?? 'error'})`)),
    );
    child.on('exit', (code, signal) => {
      if (timedOut) done(new Error(`the notify command timed out after ${timeoutMs / 1000} s (killed)`));
      else if (code === 0) done();
      else done(new Error(`the notify command ${code !== null ? `exited ${code}` : `was killed by ${signal}`}`));
    });
  });
}
