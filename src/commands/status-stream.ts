/**
 * `status --json` over every user, written as it is read (issue 20): a PostgreSQL store of 100,000 users is
 * listed in keyset pages (store/scoped.ts eachUser) and each user's entry written in chunks, so neither the
 * records nor the report are ever held whole. The bytes are exactly those of JSON.stringify(report, null, 2):
 * the report without users is stringified once and each user's entry is placed where the array stands.
 */
import { userStatus, type StatusReport } from '../core/status.js';
import { eachUser } from '../core/store/scoped.js';
import type { TokenStore } from '../core/store/types.js';
import type { Output } from '../io/output.js';

const PAGE = 1000;
/** Bytes gathered before a write (one write per user would be 100,000 writes). */
const CHUNK = 64 * 1024;
const USERS_AT = '\n  "users": [],\n';

export async function streamStatusJson(out: Output, store: TokenStore, head: StatusReport, now: number): Promise<void> {
  const text = JSON.stringify({ ...head, users: [] }, null, 2);
  const at = text.indexOf(USERS_AT);
  if (at < 0) throw new Error('internal error: the status report has no users array');
  let chunk = `${text.slice(0, at)}\n  "users": [`;
  let count = 0;
  for await (const [email, user] of eachUser(store, PAGE)) {
    const entry = JSON.stringify(userStatus(email, { version: 1, users: { [email]: user } }, now), null, 2);
    chunk += `${count++ === 0 ? '' : ','}\n    ${entry.replaceAll('\n', '\n    ')}`;
    if (chunk.length >= CHUNK) {
      await out.data(chunk);
      chunk = '';
      // The reader left (`| head`): no point paging through the rest of the store.
      if (out.stdoutGone) return;
    }
  }
  await out.data(`${chunk}${count === 0 ? ']' : '\n  ]'},\n${text.slice(at + USERS_AT.length)}\n`);
}
