/**
 * Issue 15 item 7, end to end: text from Box, the store, the environment or the user never reaches the
 * terminal raw, debug lines and stack traces included; `connect` refuses emails with control or bidi
 * characters; stored keys holding them still work and are shown escaped.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeResult } from '../helpers/run-cli.js';
import { startLab, type Lab } from './refresh-fixtures.js';

// ESC, BEL, the C1 controls (CSI U+009B, OSC U+009D) and the bidi controls.
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
const OSC52 = '\u001b]52;c;cGF5bG9hZA==\u0007';
const CSI = '\u001b[2J\u001b[H';

let lab: Lab;
beforeEach(async () => {
  lab = await startLab();
});
afterEach(async () => {
  await lab.close();
});

/** A token endpoint that answers 400 with a hostile `error` and a hostile BOX-REQUEST-ID. */
async function hostileBox(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(400, { 'content-type': 'application/json', 'box-request-id': 'r\u009b2J\u009d0;pwned' });
      res.end(JSON.stringify({ error: `bad${OSC52}${CSI}`, error_description: `d${CSI}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('terminal-safe output (issue 15 item 7)', () => {
  it('--debug refresh and token: a hostile token-endpoint error and request id come out escaped, stack trace included', async () => {
    await lab.mintAndSeed(['a@example.com'], { expired: true });
    const box = await hostileBox();
    try {
      const r = await lab.cli(['--debug', 'refresh', '--force'], { BOX_API_BASE_URL: box.url });
      expect(r.code, describeResult(r)).not.toBe(0);
      expect(r.stderr).toContain('debug:');
      expect(r.stderr).toContain('\\x9b');
      expect(r.stderr, describeResult(r)).not.toMatch(RAW);
      const t = await lab.cli(['--debug', 'token'], { BOX_API_BASE_URL: box.url });
      expect(t.code, describeResult(t)).toBe(1);
      expect(t.stderr).toMatch(/^debug: +at /m);
      expect(t.stderr).toContain('bad\\x1b]52;c;');
      expect(t.stderr, describeResult(t)).not.toMatch(RAW);
    } finally {
      await box.close();
    }
  });

  it('status, status --json and disconnect show stored emails with control or bidi characters escaped', async () => {
    const evil = `evil${OSC52}\u009b31m@example.com`;
    const bidi = 'moc.elpmaxe@\u202eeve';
    const m = lab.emu.mint({ login: 'a@example.com' });
    await lab.seed({
      [evil]: { access_token: 'A1', refresh_token: 'R1' },
      [bidi]: { access_token: 'A2', refresh_token: 'R2' },
      'a@example.com': m,
    });
    const status = await lab.cli(['status']);
    expect(status.code, describeResult(status)).toBe(0);
    expect(status.stdout).toContain('\\x1b]52');
    expect(status.stdout + status.stderr).not.toMatch(RAW);
    const json = await lab.cli(['status', '--json']);
    expect(json.stdout).not.toMatch(RAW);
    expect((JSON.parse(json.stdout) as { users: Array<{ email: string }> }).users.map((u) => u.email)).toContain(bidi);
    // A stored key with a bidi control can still be named and disconnected.
    const one = await lab.cli(['disconnect', '--email', bidi]);
    expect(one.code, describeResult(one)).toBe(0);
    expect(one.stderr).toContain('\\u202e');
    expect(one.stderr).not.toMatch(RAW);
    const all = await lab.cli(['disconnect', '--all']);
    expect(all.code, describeResult(all)).toBe(0);
    expect(all.stderr).toContain('\\x1b]52');
    expect(all.stderr + all.stdout).not.toMatch(RAW);
  });

  it.each([
    ['a right-to-left override', 'moc.elpmaxe@\u202eeve'],
    ['a C1 CSI', 'eve\u009b31m@example.com'],
    ['a zero-width bidi mark', 'eve\u200f@example.com'],
  ])('connect --email with %s exits 2 with one line', async (_what, email) => {
    const r = await lab.cli(['connect', '--email', email, '--print-url']);
    expect(r.code, describeResult(r)).toBe(2);
    expect(r.stdout).toBe('');
    expect(
      r.stderr
        .trimEnd()
        .split('\n')
        .filter((l) => !l.startsWith('hint:')),
    ).toHaveLength(1);
    expect(r.stderr).not.toMatch(RAW);
  });
});
