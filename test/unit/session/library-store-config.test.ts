/**
 * The library's openStore / createSession follow the CLI's configuration rules (issue 15 items 8, 10, 11) through
 * the same code (issue 16 item 1): a postgres:// location is a PostgreSQL store, never a file named after the URL,
 * and every environment value the CLI refuses, the library refuses with the same code.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../../../src/cli.js';
import { createSession, openStore, refreshUsers } from '../../../src/index.js';
import { fakeDeps } from '../../helpers/fake-deps.js';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

function tempStore(): string {
  const dir = mkdtempSync(join(tmpdir(), 'boxqc-libcfg-'));
  dirs.push(dir);
  return join(dir, 'tokens.json');
}

/** `box-qc refresh --all --json` in process: 'ok', or the error code of its one JSON document. */
async function cliOutcome(env: Record<string, string>): Promise<string> {
  const f = fakeDeps({ env });
  const exit = await run(['refresh', '--all', '--json'], f.deps);
  if (exit === 0) return 'ok';
  return (JSON.parse(f.stdout.text) as { error: { code: string } }).error.code;
}

/** The same through the library: createSession (opens the store) + refreshUsers. */
async function libraryOutcome(env: Record<string, string>): Promise<string> {
  try {
    const session = await createSession({ env });
    try {
      const { exitCode } = await refreshUsers(session);
      return exitCode === 0 ? 'ok' : `exit ${exitCode}`;
    } finally {
      await session.close();
    }
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

describe('library configuration', () => {
  it.each([
    [() => openStore('', {}, {})],
    [() => openStore('  ', {}, {})],
    [() => openStore(undefined, {}, { BOX_QC_STORE: '' })],
  ])('an empty store path is a ConfigError, never the default store (%#)', (open) => {
    expect(open).toThrow(expect.objectContaining({ code: 'E_CONFIG_STORE', exitCode: 2 }));
  });

  it.each(['http://box.localhost:1', 'https://u:pw-secret@api.box.com'])(
    'createSession refuses BOX_API_BASE_URL=%s',
    async (url) => {
      const store = { close: async () => {} } as never;
      await expect(createSession({ store, env: { BOX_API_BASE_URL: url } })).rejects.toMatchObject({
        code: 'E_CONFIG_URL',
        exitCode: 2,
      });
    },
  );

  it.each([
    ['an argument', (url: string) => openStore(url, {}, {})],
    ['BOX_QC_STORE', (url: string) => openStore(undefined, {}, { BOX_QC_STORE: url })],
  ])(
    'openStore opens a postgres:// URL given as %s as PostgreSQL (no connection yet, password redacted)',
    async (_how, open) => {
      const store = open('postgres://u:s3cret@db.invalid/boxqc');
      try {
        expect(store.location).toBe('postgres://u:***@db.invalid/boxqc');
      } finally {
        await store.close();
      }
    },
  );

  it('openStore refuses a malformed postgres:// URL as the CLI does, instead of making a file of it', () => {
    expect(() => openStore('postgres://[bad', {}, {})).toThrow(
      expect.objectContaining({ code: 'E_CONFIG_STORE', exitCode: 2 }),
    );
  });

  it('a store object given to createSession: an empty BOX_QC_STORE is not the setting in use (as with --store)', async () => {
    const store = openStore(tempStore(), {}, {});
    const session = await createSession({ store, env: { BOX_QC_STORE: '' } });
    await session.close();
    await store.close();
  });

  const creds = { BOX_CLIENT_ID: 'cid', BOX_CLIENT_SECRET: 'sec' };
  it.each<[string, (path: string) => Record<string, string>]>([
    ['a good configuration', (path) => ({ BOX_QC_STORE: path })],
    ['an empty BOX_API_BASE_URL (the default)', (path) => ({ BOX_QC_STORE: path, BOX_API_BASE_URL: '' })],
    ['an empty BOX_QC_STORE', () => ({ BOX_QC_STORE: '' })],
    ['a malformed postgres:// BOX_QC_STORE', () => ({ BOX_QC_STORE: 'postgresql://[bad' })],
    ['a bad BOX_QC_LOCK_WAIT_MS', (path) => ({ BOX_QC_STORE: path, BOX_QC_LOCK_WAIT_MS: 'soon' })],
    ['a non-loopback BOX_REDIRECT_URI', (path) => ({ BOX_QC_STORE: path, BOX_REDIRECT_URI: 'http://example.com/cb' })],
    ['a plain-http BOX_API_BASE_URL', (path) => ({ BOX_QC_STORE: path, BOX_API_BASE_URL: 'http://box.example.com' })],
    ['a bad BOX_AUTHORIZE_URL', (path) => ({ BOX_QC_STORE: path, BOX_AUTHORIZE_URL: 'not a url' })],
    ['a bad BOX_QC_EMAIL', (path) => ({ BOX_QC_STORE: path, BOX_QC_EMAIL: 'nobody' })],
  ])('the library and `refresh --all` agree on %s', async (_case, envFor) => {
    const env = { ...creds, ...envFor(tempStore()) };
    const cli = await cliOutcome(env);
    expect(await libraryOutcome(env)).toBe(cli);
  });
});
