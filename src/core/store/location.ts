/**
 * Which backend a store location names (issue 9): a postgres:// or postgresql:// URL is the PostgreSQL store,
 * anything else a file path. The one test for it (issue 16 item 2): the opener, `store init` and the URL
 * validation all ask here, so no caller can take a URL for a path.
 */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}
