/**
 * Issue 17: the invite flow core against the emulator, on both store backends: start -> Box's consent ->
 * finish saves the pair as `connect` does and marks the invite used; every bad state is refused before
 * anything is sent to Box; two racing callbacks save once; a denied grant leaves the invite usable.
 */
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import { finishInviteFlow, startInviteFlow } from '../../../src/core/invites/flow.js';
import { signInviteState } from '../../../src/core/invites/invite-state.js';
import { stateKeyOf } from '../../../src/core/invites/state-key.js';
import { createInvite, revokeInvites } from '../../../src/core/invites/invites.js';
import { saveUserTokens, markNeedsReconnect } from '../../../src/core/store/document.js';
import type { TokenStore } from '../../../src/core/store/types.js';
import { usePgCluster } from '../../helpers/pg-cluster.js';
import { backends, type BackendInstance } from '../store-pg/backends.js';
import { startFlowKit, type FlowKit } from './flow-kit.js';

const { skip: skipPg, cluster } = usePgCluster();
const EMAIL = 'alice@example.com';
const H72 = 72 * 3_600_000;

let kit: FlowKit;
beforeAll(async () => {
  kit = await startFlowKit();
});
afterAll(async () => kit.close());

describe.each(backends(cluster))('invite flow on the $name store', (backend) => {
  const skip = backend.name === 'postgres' && skipPg;
  let b: BackendInstance;
  let store: TokenStore;
  const opened: TokenStore[] = [];
  const open = () => {
    const s = b.open();
    opened.push(s);
    return s;
  };
  beforeEach(async () => {
    if (skip) return;
    b = await backend.create();
    store = open();
  });
  afterEach(async () => {
    if (skip) return;
    await Promise.all(opened.splice(0).map((s) => s.close()));
    await b.cleanup();
  });

  async function invite(email = EMAIL) {
    return createInvite(store, { email, expiresInMs: H72, now: Date.now() });
  }

  it.skipIf(skip)(
    'start redirects to authorize with client_id, code, the public callback, state and S256',
    async () => {
      const { token } = await invite();
      const r = await startInviteFlow(kit.ports(store), token);
      expect(r.kind).toBe('redirect');
      const url = new URL((r as { location: string }).location);
      expect(`${url.origin}${url.pathname}`).toBe(kit.emu.authorizeUrl);
      const q = url.searchParams;
      expect(q.get('client_id')).toBe('emulator-client-id');
      expect(q.get('response_type')).toBe('code');
      expect(q.get('redirect_uri')).toBe('http://127.0.0.1:8080/box-qc/callback');
      expect(q.get('state')).toMatch(/^v1\./);
      expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(q.get('code_challenge_method')).toBe('S256');
      expect(url.href.includes(token)).toBe(false);
    },
  );

  it.skipIf(skip)('start answers gone for unknown, malformed, expired, revoked and used invites', async () => {
    const ports = kit.ports(store);
    expect(await startInviteFlow(ports, 'A'.repeat(43))).toEqual({ kind: 'gone' });
    expect(await startInviteFlow(ports, '../etc/passwd')).toEqual({ kind: 'gone' });
    expect(await startInviteFlow(ports, '')).toEqual({ kind: 'gone' });
    const expired = await invite('exp@example.com');
    expect(await startInviteFlow(kit.ports(store, { now: () => Date.now() + H72 + 1000 }), expired.token)).toEqual({
      kind: 'gone',
    });
    const revoked = await invite('rev@example.com');
    await revokeInvites(store, 'rev@example.com', Date.now());
    expect(await startInviteFlow(ports, revoked.token)).toEqual({ kind: 'gone' });
    const used = await invite();
    const start = await startInviteFlow(ports, used.token);
    const done = await finishInviteFlow(ports, await kit.browse((start as { location: string }).location));
    expect(done.kind).toBe('connected');
    expect(await startInviteFlow(ports, used.token)).toEqual({ kind: 'gone' });
  });

  it.skipIf(skip)('finish saves the pair as connect does and marks the invite used', async () => {
    const { token, hash } = await invite();
    const ports = kit.ports(store);
    const start = await startInviteFlow(ports, token);
    const query = await kit.browse((start as { location: string }).location);
    const r = await finishInviteFlow(ports, query);
    expect(r).toEqual({ kind: 'connected', email: EMAIL, login: 'alice@example.com' });
    const doc = await store.read();
    const u = doc.users[EMAIL]!;
    const latest = kit.emu.latestTokens('alice@example.com')!;
    expect(u.refresh_token).toBe(latest.refresh_token);
    expect(u.generation).toBe(1);
    expect(u.box_user_id).toBe('11111');
    expect(doc.invites?.[hash]).toMatchObject({ state: 'used', email: EMAIL });
    expect(doc.invites?.[hash]?.used_at).toMatch(/Z$/);
  });

  it.skipIf(skip)('replaces the grant of a user marked needs_reconnect, clearing the mark', async () => {
    const now = Date.now();
    await store.update((d) => {
      saveUserTokens(d, EMAIL, { accessToken: 'old-at', refreshToken: 'old-rt', expiresIn: 3600 }, undefined, now);
      markNeedsReconnect(d, EMAIL, 'refresh_token_invalid', 'Box rejected the refresh token', now);
    });
    const { token } = await invite();
    const ports = kit.ports(store);
    const start = await startInviteFlow(ports, token);
    expect((await finishInviteFlow(ports, await kit.browse((start as { location: string }).location))).kind).toBe(
      'connected',
    );
    const u = (await store.read()).users[EMAIL]!;
    expect(u.needs_reconnect).toBeUndefined();
    expect(u.refresh_token).not.toBe('old-rt');
    expect(u.generation).toBe(2);
  });

  it.skipIf(skip)('a replayed state is refused with nothing sent to Box', async () => {
    const { token } = await invite();
    const ports = kit.ports(store);
    const start = await startInviteFlow(ports, token);
    const query = await kit.browse((start as { location: string }).location);
    expect((await finishInviteFlow(ports, query)).kind).toBe('connected');
    const before = kit.tokenRequests();
    const saved = (await store.read()).users[EMAIL];
    expect(await finishInviteFlow(ports, query)).toEqual({ kind: 'bad_state' });
    expect(kit.tokenRequests()).toBe(before);
    expect((await store.read()).users[EMAIL]).toEqual(saved);
  });

  it.skipIf(skip)('forged, expired, other-invite and revoked-invite states are refused before Box', async () => {
    const a = await invite();
    const ports = kit.ports(store);
    const start = await startInviteFlow(ports, a.token);
    const query = await kit.browse((start as { location: string }).location);
    const state = query.get('state')!;
    const code = query.get('code')!;
    const before = kit.tokenRequests();
    const tries: Array<[string, URLSearchParams, typeof ports]> = [
      ['no state', new URLSearchParams({ code }), ports],
      ['forged', new URLSearchParams({ code, state: `${state.slice(0, -2)}AA` }), ports],
      [
        'two states',
        new URLSearchParams([
          ['code', code],
          ['state', state],
          ['state', state],
        ]),
        ports,
      ],
      ['expired', query, kit.ports(store, { now: () => Date.now() + 11 * 60_000 })],
      ['other audience', query, kit.ports(store, { publicUrl: new URL('https://other.example.com/box-qc') })],
    ];
    for (const [what, q, p] of tries) expect(await finishInviteFlow(p, q), what).toEqual({ kind: 'bad_state' });
    // A newer invite for the same email revokes this one: its state can no longer finish.
    await invite();
    expect(await finishInviteFlow(ports, query)).toEqual({ kind: 'bad_state' });
    expect(kit.tokenRequests()).toBe(before);
    expect((await store.read()).users[EMAIL]).toBeUndefined();
  });

  it.skipIf(skip)(
    'the code exchange and the save run inside one critical section; a bad state enters none',
    async () => {
      const { token } = await invite();
      const sections: Array<{ tokenRequests: number; saved: boolean }> = [];
      const ports = kit.ports(store, {
        critical: async (fn) => {
          const before = kit.tokenRequests();
          const r = await fn();
          sections.push({
            tokenRequests: kit.tokenRequests() - before,
            saved: (await store.read()).users[EMAIL] !== undefined,
          });
          return r;
        },
      });
      const start = await startInviteFlow(ports, token);
      const query = await kit.browse((start as { location: string }).location);
      expect((await finishInviteFlow(ports, query)).kind).toBe('connected');
      expect(sections).toEqual([{ tokenRequests: 1, saved: true }]);
      expect(await finishInviteFlow(ports, query)).toEqual({ kind: 'bad_state' });
      expect(sections).toHaveLength(1);
    },
  );

  it.skipIf(skip)('denied: nothing saved, the invite still usable', async () => {
    const { token, hash } = await invite();
    const ports = kit.ports(store);
    const start = await startInviteFlow(ports, token);
    const query = await kit.browse((start as { location: string }).location, 'deny');
    expect(query.get('error')).toBe('access_denied');
    expect(await finishInviteFlow(ports, query)).toEqual({ kind: 'denied' });
    const doc = await store.read();
    expect(doc.users[EMAIL]).toBeUndefined();
    expect(doc.invites?.[hash]?.state).toBe('pending');
    const again = await startInviteFlow(ports, token);
    expect((await finishInviteFlow(ports, await kit.browse((again as { location: string }).location))).kind).toBe(
      'connected',
    );
  });

  it.skipIf(skip)('a code Box refuses fails with one safe line, the invite still usable', async () => {
    const { token, hash } = await invite();
    const ports = kit.ports(store);
    const start = await startInviteFlow(ports, token);
    const query = await kit.browse((start as { location: string }).location);
    query.set('code', 'not-a-real-code');
    const r = await finishInviteFlow(ports, query);
    expect(r.kind).toBe('failed');
    expect((r as { message: string }).message).toBe('Box refused the authorization code: open the link again');
    expect((await store.read()).invites?.[hash]?.state).toBe('pending');
  });

  it.skipIf(skip).each(['one serve process', 'two serve instances on two hosts'])(
    'two callbacks racing for one invite (%s): one saves',
    async (how) => {
      const { token, hash } = await invite();
      // Another host on the same store (PostgreSQL: another user on 127.0.0.2), as a second serve instance.
      const other = how === 'one serve process' ? store : b.open({}, b.otherLocation);
      if (other !== store) opened.push(other);
      const pa = kit.ports(store);
      const pb = kit.ports(other);
      const qa = await kit.browse(((await startInviteFlow(pa, token)) as { location: string }).location);
      const qb = await kit.browse(((await startInviteFlow(pb, token)) as { location: string }).location);
      const results = await Promise.all([finishInviteFlow(pb, qa), finishInviteFlow(pa, qb)]);
      expect(results.map((r) => r.kind).sort()).toEqual(['bad_state', 'connected']);
      const doc = await store.read();
      expect(doc.users[EMAIL]?.generation).toBe(1);
      expect(doc.invites?.[hash]?.state).toBe('used');
    },
  );

  it.skipIf(skip)('a copy of the store cannot forge a state: the signing key needs the client secret too', async () => {
    const { token, hash } = await invite();
    const started = await startInviteFlow(kit.ports(store), token);
    expect(started.kind).toBe('redirect');
    const doc = await store.read();
    // Everything a backup or a dump holds: the store's state key and the invite's hash.
    const raw = stateKeyOf(doc, store.location)!;
    const audience = `${kit.ports(store).publicUrl.href}/callback`;
    const forged = signInviteState(raw, { inviteHash: hash, audience, now: Date.now() });
    const before = kit.tokenRequests();
    const r = await finishInviteFlow(kit.ports(store), new URLSearchParams({ code: 'any', state: forged.state }));
    expect(r.kind).toBe('bad_state');
    expect(kit.tokenRequests()).toBe(before);
  });

  it.skipIf(skip)(
    'a state is good for one callback: replaying a denied one is refused, nothing sent to Box',
    async () => {
      const { token } = await invite();
      const started = await startInviteFlow(kit.ports(store), token);
      const state = new URL((started as { location: string }).location).searchParams.get('state')!;
      const denied = await finishInviteFlow(kit.ports(store), new URLSearchParams({ error: 'access_denied', state }));
      expect(denied.kind).toBe('denied');
      const before = kit.tokenRequests();
      const replay = await finishInviteFlow(kit.ports(store), new URLSearchParams({ code: 'attacker-code', state }));
      expect(replay.kind).toBe('bad_state');
      expect(kit.tokenRequests()).toBe(before);
      // The link itself still works: a new state from /connect.
      const again = await startInviteFlow(kit.ports(store), token);
      const q = await kit.browse((again as { location: string }).location);
      expect((await finishInviteFlow(kit.ports(store), q)).kind).toBe('connected');
    },
  );
});
