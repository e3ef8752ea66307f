/**
 * Issue 15 item 8 (transport half), end to end: with BOX_API_BASE_URL=http://localhost:PORT a refresh connects
 * to loopback without resolving the name. strace shows no DNS traffic (nothing to port 53) and no read of
 * /etc/hosts or /etc/gai.conf: getaddrinfo never ran (on 0f6999f it ran on a libuv thread for `localhost`).
 * Node's c-ares channel reads /etc/resolv.conf and /etc/nsswitch.conf when the dns module loads, with or
 * without a lookup, and sends nothing: those reads are not counted.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeResult } from '../helpers/run-cli.js';
import { startFaultLab, type FaultLab } from './helpers/lab.js';
import { emptyRow, recordRow } from './helpers/ledger.js';
import { judgeUsers, readStoreState, seedFresh } from './helpers/store-check.js';

const EMAIL = 'ann@example.com';

let lab: FaultLab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

describe('http://localhost without DNS (issue 15 item 8)', () => {
  it('refresh against http://localhost:PORT: no DNS query, no getaddrinfo, the refresh succeeds', async () => {
    lab = await startFaultLab({ rotation: 'strict' });
    const l = lab;
    await seedFresh(l, [EMAIL]);
    const port = new URL(l.proxy.url).port;
    const log = join(l.root, 'strace-dns.log');
    const r = await l.cli(['refresh', '--email', EMAIL, '--force'], {
      wrap: ['strace', '-f', '-qq', '-e', 'trace=openat,connect,sendto,sendmmsg', '-o', log],
      env: { BOX_API_BASE_URL: `http://localhost:${port}` },
    });
    const trace = await readFile(log, 'utf8');
    const row = emptyRow('http://localhost connected without DNS');
    row.iterations = 1;
    const resolverFiles = trace.split('\n').filter((line) => /openat\(.*"\/etc\/(hosts|gai\.conf)"/.test(line));
    const dns = trace.split('\n').filter((line) => /sin6?_port=htons\(53\)/.test(line));
    const loopback = trace
      .split('\n')
      .filter((line) => line.includes(`sin_port=htons(${port})`) && line.includes('127.0.0.1'));
    const st = await readStoreState(l.storePath);
    const lost = st.ok ? judgeUsers(l, st.doc).filter((v) => v.lost).length : 1;
    row.lost = lost;
    row.failed =
      (r.code === 0 ? 0 : 1) + (resolverFiles.length ? 1 : 0) + (dns.length ? 1 : 0) + (loopback.length ? 0 : 1);
    row.leaks = l.leaks().length;
    row.secretsChecked = l.secrets().size;
    recordRow(row);
    expect(r.code, describeResult(r)).toBe(0);
    expect(resolverFiles).toEqual([]);
    expect(dns).toEqual([]);
    expect(loopback.length).toBeGreaterThan(0);
    expect(lost).toBe(0);
  });
});
