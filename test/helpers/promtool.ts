/**
 * `promtool check metrics` (Debian package `prometheus`; .ci/run installs it): the Prometheus project's own
 * parser and linter for the text exposition format (issue 18 metrics). Missing promtool: the test skips
 * with a printed reason, except under CI, where that is a failure (a skip would hide a gap).
 */
import { spawnSync } from 'node:child_process';

export function promtoolMissing(): boolean {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  if (!r.error) return false;
  if (process.env.CI) throw new Error('CI is set but promtool is missing: apt-get install prometheus (see .ci/run)');
  console.warn('skipping the promtool checks: promtool not found (apt-get install prometheus)');
  return true;
}

/** promtool's verdict on `text`: exit status and what it printed (lint problems included). */
export function promtoolCheck(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}
