/**
 * T13 secret hygiene, positive controls: the suite's leak detector (test/faults/helpers/lab.ts) must see a
 * secret where one really is, or its "0 leaks" in every other row means nothing. `box-qc token` prints the
 * access token on stdout by design, and a secret placed in a command line must be found in
 * /proc/<pid>/cmdline. These runs are not part of any row.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { describeResult } from '../helpers/run-cli.js';
import { findSecrets, startFaultLab, type FaultLab } from './helpers/lab.js';

let lab: FaultLab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

describe('the leak detector (T13 controls)', () => {
  it('finds a secret alone, inside a longer word, and not a masked one', () => {
    const s = 'AbCdEfGhIjKlMnOpQrStUvWxYz012345';
    const secrets = new Set([s]);
    expect(findSecrets(`token ${s}\n`, secrets)).toEqual([s]);
    expect(findSecrets(`x${s}y`, secrets)).toEqual([s]);
    expect(findSecrets(`token ${s.slice(0, 4)}…${s.slice(-4)}`, secrets)).toEqual([]);
  });

  it('sees the access token that `box-qc token` prints, and a secret in a command line', async () => {
    lab = await startFaultLab();
    const a = lab.mint('alice@example.com');
    await lab.seed({ 'alice@example.com': { ...a, expired: true } });
    const r = await lab.cli(['token', '--email', 'alice@example.com']);
    expect(r.code, describeResult(r)).toBe(0);
    expect(lab.proxy.secrets.size).toBeGreaterThanOrEqual(4);
    const leaks = lab.leaks();
    expect(leaks.some((l) => l.startsWith('token --email alice@example.com stdout'))).toBe(true);
    const withArgv = lab.start(['--version'], { wrap: ['/bin/sh', '-c', 'sleep 0.3; exec "$@"', a.refresh_token] });
    await withArgv.done;
    expect(lab.leaks().some((l) => l.includes('cmdline') || l.includes(' pid '))).toBe(true);
  });
});
