import { chmodSync, copyFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CommandContext } from '../../../src/commands/context.js';
import { loadConfig } from '../../../src/config.js';
import { ConfigError } from '../../../src/errors.js';
import { createOutput } from '../../../src/io/output.js';
import { userLockPath } from '../../../src/core/store/index.js';
import { openStoreForCommand } from '../../../src/commands/shared/open-store.js';
import { parseLockWaitMs } from '../../../src/store-host.js';
import { fakeDeps } from '../../helpers/fake-deps.js';
import { PYTHON_BACKEND_FIXTURE } from '../../fixtures/store/corrupt-fixtures.js';
import { tempDir } from './store-test-kit.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

function context(env: Record<string, string>, store?: string) {
  const f = fakeDeps({ env });
  const out = createOutput({ stdout: f.deps.stdout, stderr: f.deps.stderr, env: f.deps.env });
  const ctx: CommandContext = {
    deps: f.deps,
    out,
    globals: { store },
    config: () => loadConfig({ env: f.deps.env, store, homeDir: t.dir }),
  };
  return { ctx, stderr: f.stderr };
}

describe('openStoreForCommand', () => {
  it('calls the file system directly for a one-shot command, through the thread pool when asked (serve)', async () => {
    // Observable: a read through direct calls settles before an immediate queued ahead of it runs; one
    // through the thread pool waits for the pool's completions, which come after it (fs-layer.ts).
    const path = join(t.dir, 'tokens.json');
    copyFileSync(PYTHON_BACKEND_FIXTURE, path);
    chmodSync(path, 0o600);
    const settledBeforeImmediate = async (fileCalls?: 'direct' | 'thread-pool') => {
      const { ctx } = context({ BOX_QC_STORE: path });
      const store = openStoreForCommand(ctx, fileCalls ? { fileCalls } : {});
      let immediate = false;
      setImmediate(() => (immediate = true));
      await store.read();
      const before = !immediate;
      await store.close();
      return before;
    };
    expect(await settledBeforeImmediate()).toBe(true);
    expect(await settledBeforeImmediate('direct')).toBe(true);
    expect(await settledBeforeImmediate('thread-pool')).toBe(false);
  });

  it('opens the configured file and routes warnings to stderr', async () => {
    const path = join(t.dir, 'tokens.json');
    copyFileSync(PYTHON_BACKEND_FIXTURE, path);
    chmodSync(path, 0o640);
    const { ctx, stderr } = context({ BOX_QC_STORE: path });
    const store = openStoreForCommand(ctx);
    expect(store.location).toBe(path);
    expect(Object.keys((await store.read()).users)).toEqual(['alice@example.com']);
    expect(stderr.text).toBe(
      `warning: token store ${path} was accessible by other users (mode 0640); tightened to 0600\n`,
    );
  });

  it('opens a postgres:// store (issue 9) without connecting, showing the URL with its password redacted', async () => {
    const { ctx } = context({ BOX_QC_STORE: 'postgres://u:s3cret@db/boxqc' });
    const store = openStoreForCommand(ctx);
    expect(store.location).toBe('postgres://u:***@db/boxqc');
    await store.close();
  });

  it('honours BOX_QC_LOCK_WAIT_MS (for tests) and rejects a bad value', async () => {
    expect(parseLockWaitMs(undefined)).toBeUndefined();
    expect(parseLockWaitMs('250')).toBe(250);
    expect(() => parseLockWaitMs('soon')).toThrow(ConfigError);
    const path = join(t.dir, 'tokens.json');
    writeFileSync(
      userLockPath(path, 'a@x.com'),
      JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'other' }),
    );
    const { ctx } = context({ BOX_QC_STORE: path, BOX_QC_LOCK_WAIT_MS: '100' });
    await expect(openStoreForCommand(ctx).withUserLock('a@x.com', async () => 1)).rejects.toMatchObject({
      exitCode: 75,
    });
  });

  it('starts a spinner naming the holder pid when it has to wait, and stops it when the wait ends', async () => {
    const path = join(t.dir, 'tokens.json');
    writeFileSync(
      userLockPath(path, 'a@x.com'),
      JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'other' }),
    );
    const { ctx } = context({ BOX_QC_STORE: path, BOX_QC_LOCK_WAIT_MS: '300' });
    const spun: string[] = [];
    let stopped = 0;
    const out = {
      ...ctx.out,
      spinner: async (text: string) => {
        spun.push(text);
        return { update() {}, succeed() {}, fail() {}, stop: () => void stopped++ };
      },
    };
    await expect(openStoreForCommand({ ...ctx, out }).withUserLock('a@x.com', async () => 1)).rejects.toMatchObject({
      exitCode: 75,
    });
    await new Promise((r) => setImmediate(r));
    expect(spun).toEqual([`waiting for the token store (held by pid ${process.pid})`]);
    expect(stopped).toBe(1);
  });
});
