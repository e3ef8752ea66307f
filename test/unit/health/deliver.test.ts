/**
 * deliverPending (issue 18) under the review's findings: two deliveries in one process (serve) never send one
 * event twice; a receiver that fails stops the run (the rest wait, not 10 s each); the run has a budget; a
 * tried event is never dropped by the queue cap.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../../src/core/store/open.js';
import { deliverPending, type DeliverPorts, type NotifyTransport } from '../../../src/core/health/deliver.js';
import { capPending, MAX_PENDING_EVENTS } from '../../../src/core/health/state.js';
import type { PendingHealthEvent } from '../../../src/core/health/types.js';
import type { TokenStore } from '../../../src/core/store/types.js';

const stores: TokenStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

function event(id: string, attempts = 0): PendingHealthEvent {
  const at = new Date().toISOString();
  return {
    id,
    event: 'connection.dead',
    state: 'dead',
    reason: 'refresh_token_invalid',
    since: at,
    at,
    host: 'h',
    attempts,
  };
}

function storeWith(pending: Record<string, PendingHealthEvent[]>): TokenStore {
  const dir = mkdtempSync(join(tmpdir(), 'box-qc-deliver-'));
  chmodSync(dir, 0o700);
  const path = join(dir, 'tokens.json');
  const now = new Date().toISOString();
  const users: Record<string, unknown> = {};
  for (const [email, events] of Object.entries(pending)) {
    users[email] = {
      access_token: 'AT',
      refresh_token: 'RT',
      access_token_expires_at: now,
      connected_at: now,
      updated_at: now,
      generation: 1,
      needs_reconnect: { reason: 'refresh_token_invalid', message: 'Box rejected the token', at: now },
      health: { state: 'dead', since: now, reason: 'refresh_token_invalid', pending: events },
    };
  }
  writeFileSync(path, JSON.stringify({ version: 1, users }), { mode: 0o600 });
  const store = openStore(path, {
    host: { pid: process.pid, hostname: 'h', euid: process.getuid?.(), isPidAlive: () => true },
  });
  stores.push(store);
  return store;
}

function ports(store: TokenStore, transport: NotifyTransport, extra: Partial<DeliverPorts> = {}): DeliverPorts {
  return {
    store,
    now: Date.now,
    owner: 'one-process',
    transports: [transport],
    publicUrlConfigured: false,
    warn: () => {},
    debug: () => {},
    ...extra,
  };
}

describe('deliverPending', () => {
  it('two deliveries at once in one process send each event once', async () => {
    const store = storeWith({ 'alice@example.com': [event('ev-1')] });
    const sent: string[] = [];
    const slow: NotifyTransport = {
      name: 'command',
      deliver: async (body) => {
        sent.push((JSON.parse(body) as { id: string }).id);
        await new Promise((r) => setTimeout(r, 200));
      },
    };
    const p = ports(store, slow);
    await Promise.all([deliverPending(p), new Promise((r) => setTimeout(r, 30)).then(() => deliverPending(p))]);
    expect(sent).toEqual(['ev-1']);
  });

  it('stops at the first failure: other users wait for the next run instead of a timeout each', async () => {
    const store = storeWith({
      'a@example.com': [event('ev-a')],
      'b@example.com': [event('ev-b')],
      'c@example.com': [event('ev-c')],
    });
    let tries = 0;
    const down: NotifyTransport = {
      name: 'command',
      deliver: async () => {
        tries += 1;
        throw new Error('receiver down');
      },
    };
    const r = await deliverPending(ports(store, down));
    expect(r).toEqual({ delivered: 0, failed: 1 });
    expect(tries).toBe(1);
  });

  it('claims nothing new once its budget is spent', async () => {
    const store = storeWith({ 'a@example.com': [event('ev-a')], 'b@example.com': [event('ev-b')] });
    let clock = 1_000_000;
    const sent: string[] = [];
    const t: NotifyTransport = {
      name: 'command',
      deliver: async (body) => {
        sent.push((JSON.parse(body) as { id: string }).id);
        clock += 20_000;
      },
    };
    const r = await deliverPending(ports(store, t, { now: () => clock, budgetMs: 10_000 }));
    expect(r.delivered).toBe(1);
    expect(sent).toHaveLength(1);
  });
});

describe('capPending', () => {
  it('drops the oldest untried events first and keeps every tried one', () => {
    const tried = event('tried', 2);
    const untried = Array.from({ length: MAX_PENDING_EVENTS + 3 }, (_, i) => event(`u${i}`));
    const out = capPending([tried, ...untried]);
    expect(out).toHaveLength(MAX_PENDING_EVENTS);
    expect(out[0]!.id).toBe('tried');
    expect(out.at(-1)!.id).toBe(`u${MAX_PENDING_EVENTS + 2}`);
  });
});
