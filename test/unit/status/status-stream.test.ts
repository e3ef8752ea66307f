/**
 * `status --json` streamed (issue 20): the bytes written in pages are exactly one JSON.stringify(report, null, 2)
 * of the whole report, for 0, 1, a page's worth and several pages of users (names needing escapes included).
 * The PostgreSQL twin is test/integration/store-pg/status-stream-pg.test.ts; this one needs no database.
 */
import { describe, expect, it } from 'vitest';
import { buildStatusReport } from '../../../src/core/status.js';
import { streamStatusJson } from '../../../src/commands/status-stream.js';
import type { StoreDocument, StoredUser, TokenStore } from '../../../src/core/store/types.js';
import type { Output } from '../../../src/io/output.js';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function user(i: number): StoredUser {
  return {
    access_token: `at${i}`,
    refresh_token: `rt${i}`,
    access_token_expires_at: iso(NOW + (i % 7) * 60_000),
    connected_at: iso(NOW - 10 * 86_400_000),
    updated_at: iso(NOW - i * 3_600_000),
    box_user_login: `user${i}@box.example`,
    box_user_name: i % 3 === 0 ? `Name "${i}" \\ \u00e9` : null,
    generation: i,
  } as StoredUser;
}

function storeOf(doc: StoreDocument): TokenStore {
  return { location: '/s/tokens.json', read: async () => doc } as unknown as TokenStore;
}

function capture(): { out: Output; text: () => string } {
  const parts: string[] = [];
  const out = { data: async (t: string) => void parts.push(t), stdoutGone: false } as unknown as Output;
  return { out, text: () => parts.join('') };
}

describe('status --json streamed in pages', () => {
  for (const n of [0, 1, 99, 100, 101, 250, 1_234]) {
    it(`${n} users: byte-identical to one JSON.stringify of the report`, async () => {
      const users: Record<string, StoredUser> = {};
      for (let i = n - 1; i >= 0; i--) users[`u${String(i).padStart(5, '0')}@example.com`] = user(i);
      const doc: StoreDocument = { version: 1, users };
      const facts = {
        clientIdPresent: true,
        clientSecretPresent: false,
        redirectUri: 'x',
        apiBaseUrl: 'y',
        storeSource: 'env',
      };
      const info = { location: '/s/tokens.json', exists: true, kind: 'file', mode: 0o600, dirMode: 0o700 } as const;
      const whole = buildStatusReport(doc, info, facts, NOW);
      const head = buildStatusReport({ version: 1, users: {} }, info, facts, NOW);
      const { out, text } = capture();
      await streamStatusJson(out, storeOf(doc), head, NOW);
      expect(text()).toBe(`${JSON.stringify(whole, null, 2)}\n`);
    });
  }
});

describe('report times', () => {
  it('shows a stored time in the canonical form whatever form it was stored in, and a canonical one as it is', async () => {
    const { recordStatus } = await import('../../../src/core/status.js');
    const base = user(1);
    const odd = recordStatus(
      'a@x.com',
      {
        ...base,
        access_token_expires_at: '2026-12-01T13:00:00.500+01:00',
        refresh_token_issued_at: '2026-11-30 12:00:00Z',
      },
      NOW,
    );
    expect(odd.access_token.expires_at).toBe('2026-12-01T12:00:00Z');
    expect(odd.refresh_token.rotated_at).toBe('2026-11-30T12:00:00Z');
    const estimated = recordStatus('a@x.com', { ...base, updated_at: '2026-11-29T10:00:00.999Z' }, NOW);
    expect(estimated.refresh_token).toMatchObject({ rotated_at: '2026-11-29T10:00:00Z', rotated_at_estimated: true });
    const plain = recordStatus('a@x.com', base, NOW);
    expect(plain.access_token.expires_at).toBe(base.access_token_expires_at);
    expect(plain.refresh_token.rotated_at).toBe(base.updated_at);
  });
});
