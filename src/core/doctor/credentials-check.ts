/**
 * Are the client id and secret present, and does Box accept them? A refresh with a refresh token that cannot
 * exist tells the two apart without touching any user: Box checks the client first (`invalid_client`), and
 * only for a good client looks at the token (`invalid_grant`). box-api.md §2.
 */
import { randomBytes } from 'node:crypto';
import type { ClientCredentials } from '../../config.js';
import { BoxQcError } from '../../errors.js';
import type { HttpContext } from '../http/request.js';
import { fail, messageOf, ok, type DoctorCheck } from './types.js';

const NAME = 'credentials';

export interface CredentialsCheckInput {
  http: HttpContext;
  apiBaseUrl: URL;
  /** Undefined when missing; `missing` names the variables. */
  credentials: ClientCredentials | undefined;
  missing: string[];
}

export async function checkCredentials(input: CredentialsCheckInput): Promise<DoctorCheck> {
  if (input.credentials === undefined) {
    return fail(
      NAME,
      `${input.missing.join(' and ')} ${input.missing.length > 1 ? 'are' : 'is'} not set`,
      'set BOX_CLIENT_ID and BOX_CLIENT_SECRET from the app in the Box developer console (README: "Register a Box app")',
    );
  }
  const { refreshTokens, InvalidGrantError } = await import('../oauth/token-endpoint.js');
  // 32 characters like Box's own tokens, so no length check answers first; never a real user's token.
  const impossible = randomBytes(16).toString('hex');
  try {
    await refreshTokens({ http: input.http, apiBaseUrl: input.apiBaseUrl, credentials: input.credentials }, impossible);
    return ok(NAME, 'Box accepted the client id and secret');
  } catch (err) {
    if (err instanceof InvalidGrantError) {
      return ok(NAME, 'Box accepted the client id and secret (a made-up refresh token got invalid_grant, as expected)');
    }
    if (err instanceof BoxQcError && err.code === 'E_INVALID_CLIENT') {
      return fail(
        NAME,
        'Box rejected the client id or secret (invalid_client)',
        'copy BOX_CLIENT_ID and BOX_CLIENT_SECRET again from the app in the Box developer console',
      );
    }
    return fail(NAME, `could not ask Box about the credentials: ${messageOf(err)}`, 'see the api check below');
  }
}
