/**
 * The TokenStore contract, run against both backends (issue 9 "the same tests, parametrised"): round trip
 * with unknown fields, no lost update, mutual exclusion across processes, bounded wait -> 75, SIGKILL of a
 * lock holder. The PostgreSQL runs use a throwaway cluster (test/helpers/pg-cluster.ts). Requires dist/.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StoreBusyError } from '../../../src/errors.js';
import { getUser, saveUserTokens } from '../../../src/core/store/index.js';
import type { StoreDocument } from '../../../src/core/store/types.js';
import { usePgCluster } from '../../helpers/pg-cluster.js';
import { nestingErrors, requireBuild, startWorker, type WorkerRun } from '../../helpers/store-procs.js';
import { backends, type BackendInstance } from './backends.js';

beforeAll(requireBuild);
const { skip: skipPg, cluster } = usePgCluster();

const pair = (n: number) => ({ accessToken: `at${n}`, refreshToken: `rt${n}`, expiresIn: 3895 });

async function allOk(runs: WorkerRun[]) {
  const results = await Promise.all(runs.map((r) => r.done));
  for (const r of results) expect(r.code, JSON.stringify(r)).toBe(0);
  return results;
}

describe.each(backends(cluster))('$name store contract', (backend) => {
  const skip = backend.name === 'postgres' && skipPg;
  let b: BackendInstance;
  let dir: string;
  beforeEach(async () => {
    if (skip) return;
    b = await backend.create();
    dir = mkdtempSync(join(tmpdir(), 'boxqc-contract-log-'));
  });
  afterEach(async () => {
    if (skip) return;
    await b.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(skip)('reads an empty store as version 1 with no users', async () => {
    const s = b.open();
    try {
      expect(await s.read()).toEqual({ version: 1, users: {} });
    } finally {
      await s.close();
    }
  });

  it.skipIf(skip)(
    'round-trips a record with unknown fields (per user and top level) through another instance',
    async () => {
      const s1 = b.open();
      const s2 = b.open({}, b.otherLocation);
      try {
        await s1.update((doc) => {
          saveUserTokens(
            doc,
            'Alice@Example.com ',
            pair(1),
            { id: '7', login: 'alice@box', name: 'Alice' },
            Date.UTC(2026, 10, 26, 16),
          );
          doc.users['alice@example.com']!.python_only = { nested: [1, 'two', null] };
          doc.backend_note = 'kept';
        });
        const read = await s2.read();
        expect(read.backend_note).toBe('kept');
        expect(read.users['alice@example.com']).toMatchObject({
          access_token: 'at1',
          generation: 1,
          python_only: { nested: [1, 'two', null] },
        });
        // A save from the second instance keeps what it did not set.
        await s2.update((doc) =>
          saveUserTokens(doc, 'alice@example.com', pair(2), undefined, Date.UTC(2026, 10, 26, 17)),
        );
        const again = await s1.read();
        expect(again.backend_note).toBe('kept');
        expect(again.users['alice@example.com']).toMatchObject({
          access_token: 'at2',
          generation: 2,
          box_user_login: 'alice@box',
          python_only: { nested: [1, 'two', null] },
        });
      } finally {
        await Promise.all([s1.close(), s2.close()]);
      }
    },
  );

  it.skipIf(skip)('a mutation that throws fails alone and changes nothing', async () => {
    const s = b.open();
    try {
      await s.update((doc) => saveUserTokens(doc, 'a@example.com', pair(1), undefined, Date.now()));
      const boom = s.update(() => {
        throw new Error('boom');
      });
      const ok = s.update((doc) => saveUserTokens(doc, 'b@example.com', pair(2), undefined, Date.now()).generation);
      await expect(boom).rejects.toThrow('boom');
      expect(await ok).toBe(1);
      expect(Object.keys((await s.read()).users).sort()).toEqual(['a@example.com', 'b@example.com']);
    } finally {
      await s.close();
    }
  });

  it.skipIf(skip)('removes a user and keeps the others', async () => {
    const s = b.open();
    try {
      await s.update((doc) => {
        saveUserTokens(doc, 'a@example.com', pair(1), undefined, Date.now());
        saveUserTokens(doc, 'b@example.com', pair(2), undefined, Date.now());
      });
      await s.update((doc: StoreDocument) => delete doc.users['a@example.com']);
      expect(Object.keys((await s.read()).users)).toEqual(['b@example.com']);
    } finally {
      await s.close();
    }
  });

  it.skipIf(skip)(
    'a second instance waiting on a held user lock gives up after the bounded wait with exit 75, naming the holder',
    async () => {
      const s1 = b.open();
      const waits: unknown[] = [];
      const s2 = b.open({ lockWaitMs: 200, onLockWait: (h) => void waits.push(h) }, b.otherLocation);
      try {
        await s1.withUserLock('a@example.com', async () => {
          const err = await s2.withUserLock('A@example.com', async () => 'ran').catch((e: unknown) => e);
          expect(err).toBeInstanceOf(StoreBusyError);
          expect((err as StoreBusyError).exitCode).toBe(75);
          expect((err as StoreBusyError).message).toContain(`store busy (held by pid ${process.pid}`);
          // Other users are never blocked by it, and update() works under the user lock (order user -> store).
          expect(await s2.withUserLock('b@example.com', async () => 'other')).toBe('other');
          await s1.update((doc) => saveUserTokens(doc, 'a@example.com', pair(1), undefined, Date.now()));
          // Re-entrant in the same call chain.
          expect(await s1.withUserLock('a@example.com', async () => 'inner')).toBe('inner');
        });
        expect(waits).toHaveLength(1);
        expect(
          await s2.withUserLock('a@example.com', async () => getUser(await s2.read(), 'a@example.com')?.generation),
        ).toBe(1);
        await s1.ensureWritable();
        expect((await s1.inspect()).kind).toBe(backend.name);
      } finally {
        await Promise.all([s1.close(), s2.close()]);
      }
    },
  );

  it.skipIf(skip)('an abort while waiting for a user lock rejects with the abort reason', async () => {
    const s1 = b.open();
    const s2 = b.open({ lockWaitMs: 30_000 });
    try {
      await s1.withUserLock('a@example.com', async () => {
        const ctl = new AbortController();
        const waiting = s2.withUserLock('a@example.com', async () => 'ran', {
          signal: ctl.signal,
          onWait: () => ctl.abort(new Error('stop')),
        });
        await expect(waiting).rejects.toThrow('stop');
      });
    } finally {
      await Promise.all([s1.close(), s2.close()]);
    }
  });

  it.skipIf(skip)(
    'loses no update: 20 processes save 20 users at the same moment, 3 rounds',
    async () => {
      for (let round = 1; round <= 3; round++) {
        const barrier = join(dir, `go-${round}`);
        const runs = Array.from({ length: 20 }, (_, i) =>
          startWorker({
            op: 'save',
            store: i % 2 ? b.otherLocation : b.location,
            email: `user${i}@example.com`,
            barrier,
          }),
        );
        await Promise.all(runs.map((r) => r.printed('READY')));
        writeFileSync(barrier, '');
        await allOk(runs);
        const s = b.open();
        const users = (await s.read()).users;
        await s.close();
        expect(Object.keys(users)).toHaveLength(20);
        for (let i = 0; i < 20; i++)
          expect(users[`user${i}@example.com`]?.generation, `round ${round} user${i}`).toBe(round);
      }
    },
    120_000,
  );

  it.skipIf(skip)(
    'excludes mutually: 8 processes x 6 rounds inside one user lock give a perfectly nested log',
    async () => {
      const log = join(dir, 'log');
      const barrier = join(dir, 'go');
      const runs = Array.from({ length: 8 }, (_, i) =>
        startWorker({
          op: 'nest',
          nestMs: 50,
          store: i % 2 ? b.otherLocation : b.location,
          email: 'a@example.com',
          log,
          rounds: 6,
          barrier,
        }),
      );
      await Promise.all(runs.map((r) => r.printed('READY')));
      writeFileSync(barrier, '');
      await allOk(runs);
      const lines = readFileSync(log, 'utf8').trim().split('\n');
      expect(lines).toHaveLength(96);
      expect(nestingErrors(lines)).toEqual([]);
    },
    120_000,
  );

  it.skipIf(skip)(
    'SIGKILL of a client holding the user lock releases it: the waiting clients proceed, never overlapping',
    async () => {
      const log = join(dir, 'log');
      const holder = startWorker({ op: 'hold', store: b.location, email: 'a@example.com', log });
      await holder.printed('HELD');
      const barrier = join(dir, 'go');
      const runs = Array.from({ length: 4 }, (_, i) =>
        startWorker({
          op: 'nest',
          nestMs: 50,
          store: i % 2 ? b.otherLocation : b.location,
          email: 'a@example.com',
          log,
          rounds: 3,
          barrier,
        }),
      );
      await Promise.all(runs.map((r) => r.printed('READY')));
      writeFileSync(barrier, '');
      holder.child.kill('SIGKILL');
      expect((await holder.done).signal).toBe('SIGKILL');
      await allOk(runs);
      const lines = readFileSync(log, 'utf8').trim().split('\n');
      expect(lines[0]).toBe(`<${holder.child.pid}`);
      expect(nestingErrors(lines.slice(1))).toEqual([]);
      expect(lines).toHaveLength(1 + 4 * 3 * 2);
    },
    120_000,
  );

  it.skipIf(skip)(
    'a process that cannot get the lock in time exits 75 naming the holder pid, without running',
    async () => {
      const log = join(dir, 'log');
      const holder = startWorker({ op: 'hold', store: b.location, email: 'a@example.com', log });
      await holder.printed('HELD');
      try {
        const r = await startWorker({
          op: 'nest',
          nestMs: 50,
          store: b.otherLocation,
          email: 'a@example.com',
          log,
          lockWaitMs: 300,
        }).done;
        expect(r.code, JSON.stringify(r)).toBe(75);
        expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, code: 'E_STORE_BUSY' });
        expect(r.stdout).toContain(`store busy (held by pid ${holder.child.pid}`);
        expect(existsSync(log) && readFileSync(log, 'utf8')).toBe(`<${holder.child.pid}\n`);
      } finally {
        holder.child.kill('SIGKILL');
        await holder.done;
      }
    },
    60_000,
  );
});
