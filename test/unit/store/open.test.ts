/** core/store/open.ts: the one opener of the CLI and the library decides the backend from the location alone. */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isPostgresUrl } from '../../../src/core/store/location.js';
import { openStore } from '../../../src/core/store/open.js';

const host = { pid: 4242, hostname: 'test-host', euid: undefined, isPidAlive: () => true };

describe('openStore (core)', () => {
  it.each(['', ' ', '\t'])('refuses an empty location %j: never the working folder', (location) => {
    expect(() => openStore(location, { host })).toThrow(
      expect.objectContaining({ code: 'E_CONFIG_STORE', exitCode: 2 }),
    );
  });

  it('takes a relative path from the working folder', async () => {
    const store = openStore('some/dir/tokens.json', { host });
    expect(store.location).toBe(resolve('some/dir/tokens.json'));
    expect((await store.inspect()).kind).toBe('file');
    await store.close();
  });

  it.each(['postgres://u:pw@db.invalid/boxqc', 'PostgreSQL://u:pw@db.invalid/boxqc'])(
    'opens %s as PostgreSQL, password redacted',
    async (url) => {
      const store = openStore(url, { host });
      expect(store.location).toMatch(/^postgres(ql)?:\/\/u:\*\*\*@db\.invalid\/boxqc$/i);
      await store.close();
    },
  );

  it.each([
    ['postgres://h/db', true],
    ['postgresql://h/db', true],
    ['POSTGRES://h/db', true],
    ['postgres:/h/db', false],
    ['./postgres://h/db', false],
    ['/var/lib/box-qc/tokens.json', false],
  ])('isPostgresUrl(%j) is %s', (location, expected) => {
    expect(isPostgresUrl(location)).toBe(expected);
  });
});
