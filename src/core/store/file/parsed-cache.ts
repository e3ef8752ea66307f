/**
 * The last store bytes this process parsed, with what came of them (issue 8, issue 20). `refresh --all` re-reads
 * the store under every user's lock and every group commit re-reads it under the store lock: decoding, parsing,
 * validating and then copying a 1,000-user file (0.5 MB) each time was most of a 1,000-user run. A read whose
 * bytes equal the cached bytes gets the cached document itself, deep-frozen, so no reader can change what the
 * next one sees (a write to it throws: ES modules are strict). Byte equality (a memcmp), not mtime or size,
 * decides.
 *
 * A one-user read (readUser: `status --email`, the refresh path) parses the whole file but validates only the
 * top level, every key and its own user (read-store.ts): its JSON, which no reader ever holds whole (readers get
 * a slice of frozen pieces), is kept as `raw`, so the next read of the same bytes, whole or one user, does not
 * parse again. A whole read of `raw` validates all of it (a corrupt record anywhere still fails it) and caches
 * the result frozen, as for bytes parsed twice.
 */
import { deepFreeze } from '../document-copy.js';
import { freezeValidated, markValidFrozen } from '../format.js';
import type { StoreDocument } from '../types.js';

interface Entry {
  bytes: Buffer;
  /** The validated, frozen document of these bytes, once known. */
  doc: StoreDocument | undefined;
  /** JSON.parse of these bytes, validated only in part, handed to no reader whole (one-user reads). */
  raw: unknown;
}

export class ParsedCache {
  private entry: Entry | undefined;

  private matches(bytes: Buffer): Entry | undefined {
    const e = this.entry;
    return e !== undefined && e.bytes.equals(bytes) ? e : undefined;
  }

  /** The frozen document parsed from exactly these bytes, if they are the cached ones. */
  get(bytes: Buffer): StoreDocument | undefined {
    return this.matches(bytes)?.doc;
  }

  /** The JSON a one-user read parsed from exactly these bytes (not validated whole), if it was kept. */
  raw(bytes: Buffer): unknown {
    const e = this.matches(bytes);
    return e?.doc === undefined ? e?.raw : undefined;
  }

  /** After a one-user read parsed `bytes`: keeps the parsed JSON for the next read of the same bytes. */
  keepRaw(bytes: Buffer, raw: unknown): void {
    this.entry = { bytes, doc: undefined, raw };
  }

  /**
   * After validating `doc` from `bytes` whole: caches (and freezes) it when the same bytes were parsed before
   * (a whole read, or a one-user read whose JSON this is), and returns it. A process that reads the store once
   * (status, token: most runs) never pays for freezing; one that re-reads (refresh --all) pays once.
   */
  parsed(bytes: Buffer, doc: StoreDocument): StoreDocument {
    const again = this.matches(bytes) !== undefined;
    this.entry = { bytes, doc: again ? markValidFrozen(deepFreeze(doc)) : undefined, raw: undefined };
    return doc;
  }

  /**
   * Remembers (and freezes) the document a commit just wrote as these bytes: the caller must not change it
   * afterwards. `doc` passed checkWritable whole, so every record it froze there is marked valid already.
   */
  set(bytes: Buffer, doc: StoreDocument): void {
    this.entry = { bytes, doc: freezeValidated(doc), raw: undefined };
  }
}
