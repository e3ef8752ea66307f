/**
 * The command a person runs to bring back a dead connection: `box-qc invite` when `serve` is reachable
 * (BOX_QC_PUBLIC_URL set, issue 17: the user connects from their own browser), else `box-qc connect`.
 * One place, because refresh, status, connect, the notify event (issue 18) and history all name it.
 */
export function reconnectCommand(email: string, publicUrlConfigured: boolean): string {
  return publicUrlConfigured ? `box-qc invite --email ${email}` : `box-qc connect --email ${email}`;
}
