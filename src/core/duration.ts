/** Durations for flags such as --min-valid 10m and --max-age 7d: a whole number with a unit s, m, h or d. */
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Returns milliseconds, or undefined when `raw` is not e.g. `90s`, `10m`, `2h`, `7d`. */
export function parseDuration(raw: string): number | undefined {
  const m = /^\s*(\d{1,6})\s*([smhd])\s*$/i.exec(raw);
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2]!.toLowerCase()]!;
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
