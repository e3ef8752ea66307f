/**
 * `box-qc serve`'s flag and configuration errors (issue 17), in process: each is one line and exit 2, before
 * the store is opened or anything listens; and with --json, the listening address as one JSON document.
 */
import { describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManualInterrupts } from '../../../src/deps.js';
import { run } from '../../../src/cli.js';
import { fakeDeps, runInProcess } from '../../helpers/fake-deps.js';

const ENV = {
  BOX_CLIENT_ID: 'id',
  BOX_CLIENT_SECRET: 'secret-value',
  BOX_QC_PUBLIC_URL: 'https://qc.example.com/box-qc',
  BOX_QC_STORE: '/nonexistent-dir/tokens.json',
};

async function serveFails(args: string[], env: Record<string, string | undefined> = ENV) {
  const r = await runInProcess(['serve', ...args], { env });
  expect(r.exitCode, r.stderr).toBe(2);
  expect(r.stderr.trim().split('\n').length, r.stderr).toBeLessThanOrEqual(2);
  expect(r.stderr).not.toContain('secret-value');
  return r.stderr;
}

describe('serve: refused before anything listens (exit 2)', () => {
  it('a bad --listen or BOX_QC_LISTEN', async () => {
    expect(await serveFails(['--listen', 'qc.example.com:8080'])).toContain(
      '--listen must be <ip>:<port> or localhost:<port>',
    );
    expect(await serveFails([], { ...ENV, BOX_QC_LISTEN: '8080' })).toContain('BOX_QC_LISTEN must be');
  });

  it('a non-loopback address without TLS, or only one of --tls-cert / --tls-key', async () => {
    expect(await serveFails(['--listen', '0.0.0.0:8443'])).toContain('needs --tls-cert <pem> --tls-key <pem>');
    expect(await serveFails(['--listen', '[::]:8443'])).toContain('[::]:8443 needs --tls-cert');
    expect(await serveFails(['--tls-cert', '/x.pem'])).toContain('--tls-cert and --tls-key go together');
  });

  it('no BOX_QC_PUBLIC_URL, no client secret, an empty metrics token', async () => {
    expect(await serveFails([], { ...ENV, BOX_QC_PUBLIC_URL: undefined })).toContain('BOX_QC_PUBLIC_URL');
    expect(await serveFails([], { ...ENV, BOX_CLIENT_SECRET: undefined })).toContain('BOX_CLIENT_SECRET');
    expect(await serveFails([], { ...ENV, BOX_QC_METRICS_TOKEN: ' ' })).toContain('metrics token is empty');
  });

  it('an unreadable certificate', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'boxqc-serve-'));
    expect(await serveFails(['--tls-cert', join(dir, 'no.pem'), '--tls-key', join(dir, 'no.pem')])).toMatch(
      /cannot read --tls-cert .*no\.pem: ENOENT/,
    );
  });
});

describe('serve --json', () => {
  it('prints where it listens as one JSON document, then stops on the signal', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'boxqc-serve-'));
    const interrupts = createManualInterrupts();
    const f = fakeDeps({ env: { ...ENV, BOX_QC_STORE: join(dir, 'store', 'tokens.json') } });
    f.deps.interrupts = interrupts;
    const running = run(['serve', '--listen', '127.0.0.1:0', '--json'], f.deps);
    for (let i = 0; i < 500 && !f.stdout.text.includes('}'); i++) await new Promise((r) => setTimeout(r, 10));
    const doc = JSON.parse(f.stdout.text) as { ok: boolean; url: string; public_url: string };
    expect(doc.ok).toBe(true);
    expect(doc.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(doc.public_url).toBe('https://qc.example.com/box-qc');
    expect(f.stderr.text).toContain(`listening on ${doc.url} (public URL https://qc.example.com/box-qc)`);
    interrupts.controller.abort();
    expect(await running).toBe(0);
  });
});
