/**
 * Redirect URI matching (box-api.md §1 "Redirect URI rules"): exact match of scheme, host, path and query;
 * for loopback hosts (127.0.0.1, [::1], localhost) any port is allowed when `loopbackAnyPort` is on.
 */
const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

export function matchRedirectUri(registered: string[], candidate: string, loopbackAnyPort: boolean): boolean {
  let cand: URL;
  try {
    cand = new URL(candidate);
  } catch {
    return false;
  }
  return registered.some((r) => {
    if (r === candidate) return true;
    const reg = new URL(r);
    const same =
      reg.protocol === cand.protocol &&
      reg.hostname === cand.hostname &&
      reg.pathname === cand.pathname &&
      reg.search === cand.search &&
      cand.hash === '';
    if (!same) return false;
    if (reg.port === cand.port) return true;
    return loopbackAnyPort && LOOPBACK.has(reg.hostname);
  });
}
