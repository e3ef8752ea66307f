/**
 * AES-256-GCM for stored tokens (issue 19), node:crypto only: a 12-byte random IV per write (NIST SP 800-38D's
 * recommended length; random IVs are safe far beyond the number of writes a token store sees under one key),
 * a 16-byte tag, the store identity + email + field as additional data (envelope.ts aadFor). Loaded with a
 * dynamic import only where a value must be sealed or opened, so `status` never pays for it.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ENC_PREFIX, type Envelope } from './envelope.js';
import type { TokenKey } from './keyring.js';

const IV_BYTES = 12;
const TAG_BYTES = 16;

export function seal(key: TokenKey, aad: Buffer, plaintext: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = Buffer.concat([iv, cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `${ENC_PREFIX}${key.id}:${body.toString('base64url')}`;
}

/** The plaintext, or undefined when the value does not authenticate under this key and data. */
export function open(key: TokenKey, aad: Buffer, envelope: Envelope): string | undefined {
  const body = Buffer.from(envelope.body, 'base64url');
  if (body.length < IV_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.key, body.subarray(0, IV_BYTES), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(aad);
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    const out = Buffer.concat([decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)), decipher.final()]);
    return out.toString('utf8');
  } catch {
    return undefined;
  }
}

/** A new store identity: random, so two stores' values never open in each other. */
export function newStoreId(): string {
  return randomBytes(16).toString('base64url');
}

/** A new key line for `box-qc store keygen`. */
export function newKeyLine(id: string): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}

export function randomSuffix(): string {
  return randomBytes(3).toString('hex');
}
