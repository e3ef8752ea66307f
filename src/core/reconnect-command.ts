/**
 * The command a person runs to bring back a dead connection: `box-qc invite` when `serve` is reachable
 * (BOX_QC_PUBLIC_URL set, issue 17: the user connects from their own browser), else `box-qc connect`.
 * One place, because refresh, status, connect, the notify event (issue 18) and history all name it.
 */
export function reconnectCommand(email: string, publicUrlConfigured: boolean): string {
  return `box-qc ${publicUrlConfigured ? 'invite' : 'connect'} --email ${shellWord(email)}`;
}

/**
 * An email as one shell word: people paste these commands, and an address may legally hold `$`, `;` or quotes
 * (review of issue 21, #4). Plain addresses are left as they are.
 */
export function shellWord(text: string): string {
  return /^[A-Za-z0-9@._+=:,%/-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
