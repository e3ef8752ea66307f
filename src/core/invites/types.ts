/**
 * The shapes issue 17 adds to the store document (snake_case and ISO-8601 UTC with `Z`, as the rest of the
 * store). Invites are keyed by the lowercase hex SHA-256 of their token: the token itself is never stored, so
 * a copy of the store (a backup, `store migrate`, a database dump) holds no usable link.
 */

export type InviteState = 'pending' | 'used' | 'revoked';

export interface InviteRecord {
  /** The QC user the link connects (normalised email). */
  email: string;
  created_at: string;
  expires_at: string;
  state: InviteState;
  used_at?: string;
  revoked_at?: string;
  /**
   * Nonces of the signed states already presented at /callback (newest last, at most SPENT_STATES_KEPT): a
   * state is good for one callback, so a replayed one is refused before anything is sent to Box.
   */
  spent_states?: string[];
  /** Unknown fields from other writers: preserved. */
  [extra: string]: unknown;
}

/** `StoreDocument.invites`: token hash -> record. */
export type InviteMap = Record<string, InviteRecord>;

/** `StoreDocument.box_qc_serve`: what every `serve` instance on this store shares. */
export interface ServeMeta {
  /** base64url of 32 random bytes: signs the OAuth state and derives the PKCE verifier (invite-state.ts). */
  state_key: string;
  created_at: string;
  [extra: string]: unknown;
}

export const INVITE_STATES: readonly InviteState[] = ['pending', 'used', 'revoked'];
export const INVITE_HASH_RE = /^[0-9a-f]{64}$/;
