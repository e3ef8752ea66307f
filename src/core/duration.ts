/** Durations for flags such as --min-valid 10m and --max-age 7d: a whole number with a unit s, m, h or d. */
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * The longest duration read: 999,999 days, in any unit. Far past any flag's use, and small enough that a time
 * that far back is still a valid Date (history --since on PostgreSQL formats it).
 */
const MAX_DURATION_MS = 999_999 * UNIT_MS.d!;

/**
 * Returns milliseconds, or undefined when `raw` is not e.g. `90s`, `10m`, `2h`, `7d`. Any whole number of the
 * unit (`2592000s` is 30d) up to MAX_DURATION_MS; each flag bounds its own range.
 */
export function parseDuration(raw: string): number | undefined {
  const m = /^\s*(\d{1,20})\s*([smhd])\s*$/i.exec(raw);
  if (!m) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2]!.toLowerCase()]!;
  return ms <= MAX_DURATION_MS ? ms : undefined;
}

/** 3h 5m style, for messages ("valid for 52m"). */
export function formatDuration(ms: number): string {
  if (ms <= 0) return '0s';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d`;
}
