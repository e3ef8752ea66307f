/**
 * The key text of BOX_QC_KEY_FILE / BOX_QC_KEY (issue 19): one key per line, `<key-id>:<base64 of 32 random
 * bytes>`, the first key being the one new values are written under; the others only open older values (so
 * a rotation is: add the new key as the first line, `store rekey`, remove the old line). Blank lines and lines
 * starting with `#` are ignored (a key file can say what each key is for). A malformed line is refused with its
 * line number and never echoed: it may hold most of a key.
 */
import { keyConfigError } from './errors.js';

export interface TokenKey {
  id: string;
  /** 32 bytes, for AES-256-GCM. */
  key: Buffer;
}

export interface Keyring {
  /** The first key: every new value is written under it. */
  current: TokenKey;
  byId: ReadonlyMap<string, TokenKey>;
  /** BOX_QC_KEY_FILE or BOX_QC_KEY, for messages. */
  source: string;
}

/** A key id: what `enc:v1:<key-id>:` can carry and a person can type (no `:`). */
export const KEY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Standard base64 of exactly 32 bytes, padded. */
const KEY_BASE64 = /^[A-Za-z0-9+/]{43}=$/;

export function parseKeyring(text: string, source: string): Keyring {
  const byId = new Map<string, TokenKey>();
  let current: TokenKey | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `${source} line ${i + 1}`;
    const colon = line.indexOf(':');
    if (colon < 0) throw keyConfigError(`${where} is not <key-id>:<base64 key>`, KEYGEN_HINT);
    const id = line.slice(0, colon);
    const b64 = line.slice(colon + 1);
    if (!KEY_ID_PATTERN.test(id)) {
      throw keyConfigError(
        `${where}: the key id must be 1-64 letters, digits, '.', '_' or '-' (starting with a letter or digit)`,
        KEYGEN_HINT,
      );
    }
    if (!KEY_BASE64.test(b64)) {
      throw keyConfigError(`${where} (key ${id}): the key must be the base64 of exactly 32 bytes`, KEYGEN_HINT);
    }
    if (byId.has(id)) throw keyConfigError(`${where}: key id ${id} appears twice`);
    const key: TokenKey = { id, key: Buffer.from(b64, 'base64') };
    byId.set(id, key);
    current ??= key;
  }
  if (!current) throw keyConfigError(`${source} holds no key`, KEYGEN_HINT);
  return { current, byId, source };
}

const KEYGEN_HINT = 'make a key line with `box-qc store keygen`';
