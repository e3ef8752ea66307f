// The "floor" for bench/store-scale.js: the least a Node program can do to answer `status --json` from a
// token store. Reads the file, JSON.parse, one report object per user (same fields as box-qc's report, the
// connection's `health` of issue 18 included, so the same bytes per user; no validation, no locks, no config),
// JSON.stringify with 2-space indent, one write to stdout. Whatever
// box-qc does on top of this is its own cost; what this costs is the output's and Node's.
// Usage: node bench/lib/bare-status.js <store path> [email]   (with an email: that user only, as --email)
import { readFileSync, writeSync } from 'node:fs';

const DAY = 86_400_000;
const doc = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const now = Date.now();
const iso = (ms) =>
  Number.isFinite(ms) ? new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z') : null;
const only = process.argv[3];
const users = (only ? [only] : Object.keys(doc.users).sort()).map((email) => {
  const u = doc.users[email];
  const expires = Date.parse(u.access_token_expires_at);
  const rotated = Date.parse(u.refresh_token_issued_at ?? u.updated_at);
  const age = (now - rotated) / DAY;
  return {
    email,
    box_user: { id: u.box_user_id ?? null, login: u.box_user_login ?? null, name: u.box_user_name ?? null },
    connected_at: u.connected_at ?? null,
    updated_at: u.updated_at ?? null,
    access_token: {
      expires_at: iso(expires),
      expires_in_seconds: Math.round((expires - now) / 1000),
      expired: expires <= now,
    },
    refresh_token: {
      rotated_at: iso(rotated),
      rotated_at_estimated: u.refresh_token_issued_at === undefined,
      dies_at: iso(rotated + 60 * DAY),
      age_days: Math.floor(age * 10) / 10,
      warning: age >= 50,
      expired: age >= 60,
    },
    needs_reconnect: u.needs_reconnect ?? null,
    refresh_in_flight: u.refresh_in_flight ?? null,
    // The connection's health (issue 18), as box-qc reports it: dead while marked, else what `health` says.
    health: health(u, age),
  };
});
function health(u, age) {
  const h = typeof u.health === 'object' && u.health !== null ? u.health : undefined;
  const state = u.needs_reconnect
    ? 'dead'
    : !h || h.state === 'healthy' || h.state === 'dead'
      ? 'healthy'
      : age > 50
        ? 'expiring'
        : 'degraded';
  const failing = state === 'degraded' || state === 'expiring';
  return {
    state,
    since: u.needs_reconnect && h?.state !== 'dead' ? u.needs_reconnect.at : (h?.since ?? u.connected_at ?? null),
    reason: state === 'dead' ? (u.needs_reconnect?.reason ?? null) : state === 'healthy' ? null : (h?.reason ?? null),
    failures: failing ? (h?.failures ?? 0) : 0,
    pending_notifications: Array.isArray(h?.pending) ? h.pending.length : 0,
  };
}
const out = `${JSON.stringify({ ok: true, now: iso(now), users, config: { store: { location: process.argv[2] } } }, null, 2)}\n`;
const bytes = Buffer.from(out);
for (let off = 0; off < bytes.length;) off += writeSync(1, bytes, off);
