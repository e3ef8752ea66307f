/**
 * One history entry's shape rules, shared by both backends: building it from what a caller appends plus the
 * process facts, narrowing a stored line back into an entry (a reader never trusts the file), and filtering.
 */
import type { HistoryEntry, HistoryFacts, HistoryFilter, HistoryInput } from './types.js';

/** `detail` is a short note, never a document: longer text is cut (a JSON line stays well under 4 KiB). */
export const MAX_DETAIL_CHARS = 500;
const MAX_FIELD_CHARS = 320;

export function buildEntry(input: HistoryInput, facts: HistoryFacts, now: () => number): HistoryEntry {
  const entry: HistoryEntry = {
    time: input.time ?? new Date(now()).toISOString(),
    event: clip(input.event, MAX_FIELD_CHARS),
    ...(input.email !== undefined ? { email: clip(input.email, MAX_FIELD_CHARS) } : {}),
    outcome: clip(input.outcome, MAX_FIELD_CHARS),
    ...(input.box_request_id !== undefined ? { box_request_id: clip(input.box_request_id, MAX_FIELD_CHARS) } : {}),
    ...(input.detail !== undefined ? { detail: clip(input.detail, MAX_DETAIL_CHARS) } : {}),
    host: clip(facts.host, MAX_FIELD_CHARS),
    pid: facts.pid,
    os_user: clip(facts.os_user, MAX_FIELD_CHARS),
    command: clip(facts.command, MAX_FIELD_CHARS),
  };
  return entry;
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

const REQUIRED_STRINGS = ['time', 'event', 'host', 'os_user', 'command', 'outcome'] as const;
const OPTIONAL_STRINGS = ['email', 'box_request_id', 'detail'] as const;

/** A stored entry (a parsed JSON line or a row), or undefined when it is not one. */
export function narrowEntry(value: unknown): HistoryEntry | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (!REQUIRED_STRINGS.every((k) => typeof v[k] === 'string')) return undefined;
  if (typeof v.pid !== 'number' || !Number.isFinite(v.pid)) return undefined;
  if (Number.isNaN(Date.parse(v.time as string))) return undefined;
  const entry: HistoryEntry = {
    time: v.time as string,
    event: v.event as string,
    outcome: v.outcome as string,
    host: v.host as string,
    pid: v.pid,
    os_user: v.os_user as string,
    command: v.command as string,
  };
  for (const k of OPTIONAL_STRINGS) if (typeof v[k] === 'string') entry[k] = v[k];
  return entry;
}

/**
 * One JSON line back into an entry. A line cut short by a full disk runs into the next one: every line
 * starts with `{"time":`, so the last such start in a line that does not parse is tried once more.
 */
export function parseEntryLine(line: string): HistoryEntry | undefined {
  const text = line.trim();
  if (text === '') return undefined;
  const direct = tryParse(text);
  if (direct) return direct;
  const start = text.lastIndexOf('{"time":');
  return start > 0 ? tryParse(text.slice(start)) : undefined;
}

function tryParse(text: string): HistoryEntry | undefined {
  try {
    return narrowEntry(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** Oldest first (stable for equal times: the order they were written in), filtered, the newest `limit` kept. */
export function selectEntries(entries: HistoryEntry[], filter: HistoryFilter): HistoryEntry[] {
  const since = filter.sinceMs;
  const picked = entries
    .map((e, i) => ({ e, i, t: Date.parse(e.time) }))
    .filter(
      ({ e, t }) => (filter.email === undefined || e.email === filter.email) && (since === undefined || t >= since),
    )
    .sort((a, b) => a.t - b.t || a.i - b.i)
    .map(({ e }) => e);
  return filter.limit !== undefined ? picked.slice(Math.max(0, picked.length - filter.limit)) : picked;
}
