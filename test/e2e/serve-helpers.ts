/**
 * For the `box-qc serve` end-to-end tests (issue 17): a free port, a running `serve` child (waits for its
 * "listening on" line), `invite` for a link, a raw GET with any Host, and the check that nothing sent to the
 * emulator (Box) carried the invite token in a URL or a Referer.
 */
import { expect } from 'vitest';
import { request } from 'node:http';
import { createServer } from 'node:net';
import type { Emulator } from '../../src/emulator/index.js';
import { describeResult, runCli, startCli, type CliResult } from '../helpers/run-cli.js';
import type { ChildProcess } from 'node:child_process';

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface ServeChild {
  child: ChildProcess;
  done: Promise<CliResult>;
  stderr(): string;
  /** SIGTERM, then the result (which must be exit 0). */
  stop(): Promise<CliResult>;
}

export async function startServe(args: string[], env: Record<string, string>): Promise<ServeChild> {
  const c = startCli(['serve', ...args], { env, timeoutMs: 120_000 });
  let stderr = '';
  c.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  c.child.stdin!.end();
  const until = Date.now() + 20_000;
  let exited: CliResult | undefined;
  void c.done.then((r) => (exited = r));
  while (!/^listening on /m.test(stderr)) {
    if (exited) throw new Error(`serve exited before listening\n${describeResult(exited)}`);
    if (Date.now() > until) throw new Error(`serve did not start:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    ...c,
    stderr: () => stderr,
    async stop() {
      c.child.kill('SIGTERM');
      return c.done;
    },
  };
}

export async function invite(env: Record<string, string>, email: string): Promise<string> {
  const r = await runCli(['invite', '--email', email], { env });
  expect(r.code, describeResult(r)).toBe(0);
  return r.stdout.trim();
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A GET to `url`'s socket (or `via`, host:port) with the given Host header: plays a browser or a balancer. */
export function getVia(url: string, opts: { host?: string; via?: string } = {}): Promise<RawResponse> {
  const u = new URL(url);
  const [hostname, port] = opts.via
    ? [opts.via.replace(/:\d+$/, ''), opts.via.replace(/^.*:/, '')]
    : [u.hostname, u.port];
  return new Promise((resolve, reject) => {
    const req = request(
      { hostname, port: Number(port), path: `${u.pathname}${u.search}`, headers: { host: opts.host ?? u.host } },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** The invite token never reached Box: in no request's path, query or Referer. */
export function assertTokenNeverSentToBox(emu: Emulator, link: string): void {
  const token = link.replace(/^.*\/connect\//, '');
  expect(token).toMatch(/^[A-Za-z0-9_-]{20,}$/);
  expect(emu.requests.length).toBeGreaterThan(0);
  for (const r of emu.requests) {
    const seen = `${r.path}?${r.query} ${r.referer ?? ''}`;
    expect(seen.includes(token), `invite token sent to Box in ${r.method} ${r.path}`).toBe(false);
    expect(decodeURIComponent(seen).includes(token)).toBe(false);
  }
}

/** No token, code, state or secret in serve's output; its access-log lines name route patterns only. */
export function assertCleanLog(stderr: string, secrets: string[]): void {
  for (const s of secrets) {
    if (s === '') continue;
    expect(stderr.includes(s), `${s.slice(0, 8)}… in serve's output:\n${stderr}`).toBe(false);
  }
  for (const line of stderr.split('\n').filter((l) => /^(GET|HEAD|-) /.test(l))) {
    expect(line).toMatch(
      /^(GET|HEAD|-) (\/connect\/:token|\/callback|\/healthz|\/metrics|-) \d{3} (\d+ms)( \((internal error|error E_[A-Z0-9_]+)\))?$/,
    );
  }
}
