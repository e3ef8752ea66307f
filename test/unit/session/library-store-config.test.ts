/** The library's openStore / createSession follow the CLI's configuration rules (issue 15 items 8, 10, 11). */
import { describe, expect, it } from 'vitest';
import { createSession, openStore } from '../../../src/index.js';

describe('library configuration', () => {
  it.each([
    [() => openStore('', {}, {})],
    [() => openStore('  ', {}, {})],
    [() => openStore(undefined, {}, { BOX_QC_STORE: '' })],
  ])('an empty store path is a ConfigError, never the default store (%#)', (open) => {
    expect(open).toThrow(expect.objectContaining({ code: 'E_CONFIG_STORE', exitCode: 2 }));
  });

  it.each(['http://box.localhost:1', 'https://u:pw-secret@api.box.com'])('createSession refuses BOX_API_BASE_URL=%s', async (url) => {
    const store = { close: async () => {} } as never;
    await expect(createSession({ store, env: { BOX_API_BASE_URL: url } })).rejects.toMatchObject({ code: 'E_CONFIG_URL', exitCode: 2 });
  });
});
