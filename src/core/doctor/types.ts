/**
 * `box-qc doctor` (issue 21): the questions an operator asks on day one, each answered by one check with a
 * status and, when it is not ok, the fix. Checks never print or return a secret.
 */
export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface DoctorCheck {
  /** Stable, for scripts: credentials, redirect_uri, store_files, store_access, api, clock, public_url. */
  name: string;
  status: CheckStatus;
  /** One line; values from the environment or the network are made terminal-safe by the renderer. */
  message: string;
  /** What to do about a warn or fail. */
  fix?: string;
}

export const ok = (name: string, message: string): DoctorCheck => ({ name, status: 'ok', message });
export const warn = (name: string, message: string, fix: string): DoctorCheck => ({
  name,
  status: 'warn',
  message,
  fix,
});
export const fail = (name: string, message: string, fix: string): DoctorCheck => ({
  name,
  status: 'fail',
  message,
  fix,
});

/** The error's own one-line message, never a stack (BoxQcError messages carry no secrets). */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}
