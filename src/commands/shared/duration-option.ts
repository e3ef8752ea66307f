/** The commander parser for duration flags (`token --min-valid`, `refresh --min-valid` and `--max-age`). */
import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../../core/duration.js';

export function durationOption(raw: string): number {
  const ms = parseDuration(raw);
  if (ms === undefined) throw new InvalidArgumentError('expected a duration such as 90s, 10m, 2h or 7d');
  return ms;
}
