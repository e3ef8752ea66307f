/**
 * The invite flow's core (issue 17), what `box-qc serve` answers with: GET /connect/<token> -> startInviteFlow,
 * GET /callback -> finishInviteFlow. No HTTP server here, no per-flow memory: the state is signed with the
 * store's key and bound to the invite, and the PKCE verifier is derived from it (invite-state.ts), so any
 * `serve` instance sharing the store can finish a flow another one started.
 *
 * finish verifies the state first (signature, expiry, audience, invite still usable) and sends nothing to
 * Box before that passed; then exchanges the code at once (Box codes live 30 s), asks `users/me`, and in ONE
 * update() under the user's lock re-checks the invite, saves the pair exactly as `connect` does
 * (connect/finish.ts saveGrant) and marks the invite used. Two callbacks racing for one invite: the store
 * lock orders their updates and the second finds the invite used (bad_state, nothing saved).
 */
import type { ClientCredentials } from '../../config.js';
import { BoxQcError } from '../../errors.js';
import { connectedEntry, exchangeAndIdentify, saveGrant } from '../connect/finish.js';
import { recordHistory } from '../history/record.js';
import { historyTransition } from '../health/history-hook.js';
import type { HttpContext } from '../http/request.js';
import { buildAuthorizeUrl } from '../oauth/authorize-url.js';
import type { TokenStore } from '../store/types.js';
import { inviteStatePkce, signInviteState, verifyInviteState } from './invite-state.js';
import { hashInviteToken, isInviteToken } from './invite-token.js';
import { findUsableByPrefix, markInviteUsed, spendStateNonce, usableInvite } from './invites.js';
import { createHmac } from 'node:crypto';
import { callbackUrl } from './links.js';
import { loadStateKey, stateKeyOf } from './state-key.js';

export interface InviteFlowPorts {
  store: TokenStore;
  http: () => Promise<HttpContext>;
  apiBaseUrl: URL;
  authorizeUrl: URL;
  credentials: ClientCredentials;
  publicUrl: URL;
  now(): number;
  /**
   * Wraps the code exchange and the save (deps.interrupts.critical in the CLI): `serve` waits for these
   * sections on SIGTERM, so a grant Box already issued is saved before exit.
   */
  critical<T>(fn: () => Promise<T>): Promise<T>;
  signal?: AbortSignal;
  /** This host's name, for the connection.recovered event a reconnect records (issue 18). */
  host?: string;
}

export type StartResult = { kind: 'redirect'; location: string } | { kind: 'gone' };

export type FinishResult =
  | { kind: 'connected'; email: string; login: string }
  /** error=access_denied from Box: nothing saved, the invite still pending. */
  | { kind: 'denied' }
  /** Forged, expired, wrong audience, replayed, invite not pending: nothing saved, nothing sent to Box. */
  | { kind: 'bad_state' }
  /** E.g. Box refused the code: one safe line, no secrets. */
  | { kind: 'failed'; message: string };

/** GET /connect/<token>: a usable invite -> the authorize URL; anything else -> gone (one answer for all). */
export async function startInviteFlow(ports: InviteFlowPorts, token: string): Promise<StartResult> {
  if (!isInviteToken(token)) return { kind: 'gone' };
  const hash = hashInviteToken(token);
  const now = ports.now();
  const doc = await ports.store.read();
  if (!usableInvite(doc, hash, now)) return { kind: 'gone' };
  const key = signingKey(
    stateKeyOf(doc, ports.store.location) ?? (await loadStateKey(ports.store, now)),
    ports.credentials.clientSecret,
  );
  const redirectUri = callbackUrl(ports.publicUrl);
  const { state, nonce } = signInviteState(key, { inviteHash: hash, audience: redirectUri, now });
  const location = buildAuthorizeUrl({
    authorizeUrl: ports.authorizeUrl,
    clientId: ports.credentials.clientId,
    redirectUri,
    state,
    pkce: inviteStatePkce(key, nonce),
  });
  return { kind: 'redirect', location };
}

const BOX_ERROR_RE = /^[a-z_]{1,40}$/;

/** The state key each store object last verified a state with (one `serve` process keeps one store). */
const knownStateKeys = new WeakMap<TokenStore, Buffer>();

/** GET /callback?code=&state= (or ?error=&state=). */
export async function finishInviteFlow(ports: InviteFlowPorts, query: URLSearchParams): Promise<FinishResult> {
  const state = query.get('state');
  if (state === null || query.getAll('state').length !== 1) return { kind: 'bad_state' };
  const now = ports.now();
  const redirectUri = callbackUrl(ports.publicUrl);
  const checked = await checkState(ports, state, redirectUri, now);
  if (!checked) return { kind: 'bad_state' };
  const { stateKey, key, nonce, inviteHashPrefix } = checked;

  // One callback per state, whatever it carries: spent in the store before anything else happens, so a
  // replayed state (a denied or failed one included) is refused with nothing sent to Box.
  const spent = await ports.store.update((d) => {
    // Under the store lock: a state signed with a key the store no longer holds (removed by an operator to
    // invalidate open links) is refused, as it would be without the cached key.
    if (!stateKeyOf(d, ports.store.location)?.equals(stateKey)) return 'key_changed' as const;
    const found = findUsableByPrefix(d, inviteHashPrefix, now);
    return found && spendStateNonce(d, found.hash, nonce, now) ? found : undefined;
  });
  if (spent === 'key_changed') knownStateKeys.delete(ports.store);
  if (spent === undefined || spent === 'key_changed') return { kind: 'bad_state' };
  const invite = spent;

  const error = query.get('error');
  if (error !== null) {
    if (error === 'access_denied') return { kind: 'denied' };
    // Box's error code only (never its description), and only when it looks like one.
    return { kind: 'failed', message: `Box answered ${BOX_ERROR_RE.test(error) ? error : 'an error'}` };
  }
  const code = query.get('code');
  if (code === null || code === '' || query.getAll('code').length !== 1)
    return { kind: 'failed', message: 'Box sent no authorization code' };

  const pkce = inviteStatePkce(key, nonce);
  // One critical section from the code exchange to the save: a stop (SIGTERM on `serve`) lets a callback that
  // already reached Box finish and save its grant (issue 17), and starts no new one.
  return ports.critical(async () => {
    // The store must take the grant before its code is spent at Box (a full disk, a store holding encrypted
    // values and no key here: review of issue 19, finding 1); the invite stays pending.
    try {
      await ports.store.ensureWritable();
    } catch (err) {
      if (err instanceof BoxQcError) return { kind: 'failed', message: failureLine(err) };
      throw err;
    }
    let grant;
    try {
      grant = await exchangeAndIdentify(ports, code, { redirectUri, codeVerifier: pkce.verifier });
    } catch (err) {
      if (err instanceof BoxQcError) return { kind: 'failed', message: failureLine(err) };
      throw err;
    }
    const { email } = invite.record;
    const saved = await ports.store.withUserLock(
      email,
      () =>
        ports.store.update((d) => {
          // Re-checked under the store lock: another callback (this or another instance) may have used it.
          if (!usableInvite(d, invite.hash, grant.receivedAt)) return undefined;
          const result = saveGrant(d, email, grant, ports.host);
          markInviteUsed(d, invite.hash, grant.receivedAt);
          return result;
        }),
      ports.signal ? { signal: ports.signal } : undefined,
    );
    if (!saved) return { kind: 'bad_state' };
    await recordHistory(ports.store, connectedEntry(saved.result, grant.pair.requestId));
    await recordHistory(ports.store, { event: 'invite.used', email, outcome: 'used' });
    await historyTransition(ports.store, email, saved.transition);
    return { kind: 'connected', email, login: saved.result.box.login };
  });
}

/**
 * The state's signature, expiry and audience, checked with the key this store's last flow used (no store read
 * on the way: issue 17 bench), else with the key the store holds now (first flow, or the key was replaced).
 */
async function checkState(
  ports: InviteFlowPorts,
  state: string,
  audience: string,
  now: number,
): Promise<{ stateKey: Buffer; key: Buffer; nonce: string; inviteHashPrefix: string } | undefined> {
  const attempt = (stateKey: Buffer) => {
    const key = signingKey(stateKey, ports.credentials.clientSecret);
    const v = verifyInviteState(key, state, { audience, now });
    return v.ok ? { stateKey, key, nonce: v.nonce, inviteHashPrefix: v.inviteHashPrefix } : undefined;
  };
  const known = knownStateKeys.get(ports.store);
  const fast = known && attempt(known);
  if (fast) return fast;
  const stored = stateKeyOf(await ports.store.read(), ports.store.location);
  const checked = stored && attempt(stored);
  if (checked) knownStateKeys.set(ports.store, stored);
  return checked;
}

/** A BoxQcError's message is one line with no secret (errors.ts); the code refusals get the invite's wording. */
function failureLine(err: BoxQcError): string {
  if (err.code === 'E_CODE_EXPIRED' || err.code === 'E_CODE_REJECTED')
    return 'Box refused the authorization code: open the link again';
  return err.message.split('\n')[0]!.slice(0, 300);
}

/**
 * The key that signs states and derives PKCE verifiers: the store's state key mixed with the client secret,
 * which every `serve` instance has and the store does not. A copy of the store (a backup, a dump, a read-only
 * database role) then cannot forge a state for a pending invite (review of issue 17, finding 1).
 */
function signingKey(stateKey: Buffer, clientSecret: string): Buffer {
  return createHmac('sha256', clientSecret).update('box-qc invite state v1\0').update(stateKey).digest();
}
