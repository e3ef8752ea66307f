/**
 * One human line per history entry (issue 18), for `box-qc history` and `status --email`: time (to the
 * second, UTC), event, email, outcome and detail, then who wrote it. Every field comes from a file or table
 * that anyone with access could have edited: each is made terminal-safe.
 *
 *   2026-12-01T14:03:12Z  refresh     alice@example.com  temporary (E_BOX_TEMPORARY HTTP 503)  [root@web1 pid 4242, refresh] box-request-id 0a1b2c
 */
import type { HistoryEntry } from '../../core/history/types.js';
import { terminalSafe } from '../../io/terminal-safe.js';

export function historyLine(e: HistoryEntry): string {
  const s = terminalSafe;
  const time = s(e.time.replace(/\.\d+Z$/, 'Z'));
  const what = `${s(e.outcome)}${e.detail !== undefined ? ` (${s(e.detail)})` : ''}`;
  const who = `[${s(e.os_user)}@${s(e.host)} pid ${e.pid}, ${s(e.command)}]`;
  const rid = e.box_request_id !== undefined ? ` box-request-id ${s(e.box_request_id)}` : '';
  return `${time}  ${s(e.event).padEnd(10)}  ${s(e.email ?? '-').padEnd(20)}  ${what}  ${who}${rid}`;
}
