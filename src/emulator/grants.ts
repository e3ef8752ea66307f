/**
 * OAuth state: authorization codes, grants and their token pairs, rotation (box-api.md §2 "Lifetimes and
 * rotation", "Grace / replay behaviour"), revocation (§3) and per-user refresh chains for the fault suite.
 */
import { createHash } from 'node:crypto';
import type { ResolvedOptions, EmulatorUser } from './options.js';
import { randomToken } from './reply.js';

export interface Grant {
  id: number;
  login: string;
  clientId: string;
  scope: string;
  revoked: boolean;
  latest: TokenRecord;
  pairs: TokenRecord[];
}

export interface TokenRecord {
  grant: Grant;
  /** 1 for the pair from the code exchange (or mint), +1 per rotation. */
  generation: number;
  accessToken: string;
  refreshToken: string;
  issuedAt: number;
  expiresIn: number;
  accessExpiresAt: number;
  refreshExpiresAt: number;
  /** The RT was spent on a rotation. */
  rtUsed: boolean;
  /** box-grace: the successor pair was used, so this pair (AT and RT) is dead. */
  superseded: boolean;
  predecessor?: TokenRecord;
  successor?: TokenRecord;
}

export interface AuthCode {
  clientId: string;
  login: string;
  scope: string;
  redirectUri: string | undefined;
  codeChallenge: string | undefined;
  codeChallengeMethod: string;
  expiresAt: number;
}

export interface ChainEvent {
  grantId: number;
  /** Generation of the refresh token presented (undefined when Box would not know it). */
  presentedGeneration: number | undefined;
  /** Generation of the latest refresh token issued for that grant when the request arrived. */
  latestGeneration: number | undefined;
  presentedWasLatest: boolean;
  outcome: 'rotated' | 'replayed' | 'rejected-used' | 'rejected-expired' | 'rejected-revoked' | 'family-revoked';
  receivedAt: number;
  committedAt?: number;
  /** Filled by the fault layer: whether the client got the answer. */
  response?: 'sent' | 'dropped' | 'stalled';
}

export type RefreshResult =
  { ok: true; record: TokenRecord; expiresIn: number; replayed: boolean } | { ok: false; expired: boolean };

export type AccessCheck = { ok: true; record: TokenRecord } | { ok: false; expired: boolean };

export class GrantStore {
  private nextGrantId = 1;
  private readonly byAccess = new Map<string, TokenRecord>();
  private readonly byRefresh = new Map<string, TokenRecord>();
  private readonly codes = new Map<string, AuthCode>();
  readonly chains = new Map<string, ChainEvent[]>();
  readonly grants: Grant[] = [];

  constructor(
    private readonly opts: () => ResolvedOptions,
    private readonly now: () => number,
  ) {}

  userFor(login: string): EmulatorUser {
    const wanted = login.toLowerCase();
    const found = this.opts().users.find((u) => u.login === wanted);
    if (found) return found;
    // An unknown login signs in as a new user with a stable id, so `approveAs: 'demo@example.com'` just works.
    const id = String(30000 + (parseInt(createHash('sha1').update(wanted).digest('hex').slice(0, 8), 16) % 60000));
    const local = wanted.split('@')[0] ?? wanted;
    const user = { id, login: wanted, name: `${local.charAt(0).toUpperCase()}${local.slice(1)} Example` };
    this.opts().users.push(user);
    return user;
  }

  issueCode(c: Omit<AuthCode, 'expiresAt'>): string {
    const now = this.now();
    // Forget codes nobody exchanged (long after they expired, so "has expired" is still answered for a while).
    for (const [k, v] of this.codes) if (v.expiresAt + 600_000 <= now) this.codes.delete(k);
    const code = randomToken(32);
    this.codes.set(code, { ...c, expiresAt: this.now() + this.opts().codeTtlSeconds * 1000 });
    return code;
  }

  findCode(code: string): AuthCode | undefined {
    return this.codes.get(code);
  }

  /** Single use: a code is consumed by the first successful exchange (box-api.md §1 "Authorization code"). */
  consumeCode(code: string): void {
    this.codes.delete(code);
  }

  createGrant(login: string, clientId: string, scope: string): TokenRecord {
    const grant = { id: this.nextGrantId++, login: login.toLowerCase(), clientId, scope, revoked: false } as Grant;
    grant.pairs = [];
    const rec = this.newPair(grant, 1);
    this.grants.push(grant);
    return rec;
  }

  private newPair(grant: Grant, generation: number): TokenRecord {
    const o = this.opts();
    const now = this.now();
    const max = o.accessTokenTtlMaxSeconds;
    const ttl =
      max !== undefined && max > o.accessTokenTtlSeconds
        ? o.accessTokenTtlSeconds + Math.floor(Math.random() * (max - o.accessTokenTtlSeconds + 1))
        : o.accessTokenTtlSeconds;
    const rec: TokenRecord = {
      grant,
      generation,
      accessToken: randomToken(32),
      refreshToken: randomToken(64),
      issuedAt: now,
      expiresIn: ttl,
      accessExpiresAt: now + ttl * 1000,
      refreshExpiresAt: now + o.refreshTokenTtlSeconds * 1000,
      rtUsed: false,
      superseded: false,
    };
    grant.latest = rec;
    grant.pairs.push(rec);
    this.byAccess.set(rec.accessToken, rec);
    this.byRefresh.set(rec.refreshToken, rec);
    return rec;
  }

  /** A pair was used (API call or refresh): under box-grace its predecessor dies (box-api.md §2, #157 model). */
  private markUsed(rec: TokenRecord): void {
    if (this.opts().rotation === 'box-grace' && rec.predecessor) rec.predecessor.superseded = true;
  }

  checkAccess(token: string): AccessCheck {
    const rec = this.byAccess.get(token);
    if (!rec || rec.grant.revoked || rec.superseded) return { ok: false, expired: false };
    if (this.now() >= rec.accessExpiresAt) return { ok: false, expired: true };
    this.markUsed(rec);
    return { ok: true, record: rec };
  }

  refresh(token: string, clientId: string, receivedAt: number): { result: RefreshResult; event?: ChainEvent } {
    const rec = this.byRefresh.get(token);
    if (!rec || rec.grant.clientId !== clientId) return { result: { ok: false, expired: false } };
    const grant = rec.grant;
    const event: ChainEvent = {
      grantId: grant.id,
      presentedGeneration: rec.generation,
      latestGeneration: grant.latest.generation,
      presentedWasLatest: grant.latest === rec,
      outcome: 'rejected-used',
      receivedAt,
    };
    this.chainOf(grant.login).push(event);
    const result = this.decideRefresh(rec, event);
    if (result.ok) event.committedAt = this.now();
    return { result, event };
  }

  private decideRefresh(rec: TokenRecord, event: ChainEvent): RefreshResult {
    const grant = rec.grant;
    const mode = this.opts().rotation;
    if (grant.revoked) {
      event.outcome = 'rejected-revoked';
      return { ok: false, expired: false };
    }
    if (this.now() >= rec.refreshExpiresAt) {
      event.outcome = 'rejected-expired';
      return { ok: false, expired: true };
    }
    if (!rec.rtUsed) {
      this.markUsed(rec);
      rec.rtUsed = true;
      const next = this.newPair(grant, rec.generation + 1);
      next.predecessor = rec;
      rec.successor = next;
      event.outcome = 'rotated';
      return { ok: true, record: next, expiresIn: next.expiresIn, replayed: false };
    }
    if (mode === 'box-grace' && !rec.superseded && rec.successor) {
      // "returns the same AccessToken as previously but with a changed expiresIn value" (box-api.md §2).
      const succ = rec.successor;
      event.outcome = 'replayed';
      const left = Math.max(0, Math.floor((succ.accessExpiresAt - this.now()) / 1000));
      return { ok: true, record: succ, expiresIn: left, replayed: true };
    }
    if (mode === 'family') {
      grant.revoked = true;
      event.outcome = 'family-revoked';
    }
    return { ok: false, expired: false };
  }

  /** RFC 7009 / box-api.md §3: AT or RT revokes the whole grant. False when the token was not live. */
  revoke(token: string, clientId: string): boolean {
    const rec = this.byAccess.get(token) ?? this.byRefresh.get(token);
    if (!rec || rec.grant.clientId !== clientId || !this.isLive(token)) return false;
    rec.grant.revoked = true;
    return true;
  }

  isLive(token: string): boolean {
    const now = this.now();
    const at = this.byAccess.get(token);
    if (at) return !at.grant.revoked && !at.superseded && now < at.accessExpiresAt;
    const rt = this.byRefresh.get(token);
    if (!rt || rt.grant.revoked || rt.superseded || now >= rt.refreshExpiresAt) return false;
    if (!rt.rtUsed) return true;
    return this.opts().rotation === 'box-grace' && rt.successor !== undefined;
  }

  chainOf(login: string): ChainEvent[] {
    const key = login.toLowerCase();
    let list = this.chains.get(key);
    if (!list) this.chains.set(key, (list = []));
    return list;
  }
}
