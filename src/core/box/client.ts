/**
 * Box API client: /2.0/users/me and folder items (marker paging, retries), error parsing.
 * OWNER: issue 6. The signatures below are the contract other modules code against.
 */
import type { HttpContext } from '../http.js';
import type { BoxIdentity } from '../store/types.js';

export interface BoxClientOptions {
  http: HttpContext;
  apiBaseUrl: URL;
}

/** GET /2.0/users/me with the given access token. 401 -> BoxApiError status 401. */
export async function getCurrentUser(_opts: BoxClientOptions, _accessToken: string): Promise<BoxIdentity> {
  throw new Error('getCurrentUser: not implemented yet (issue 6)');
}
