/**
 * Is Box's API (or the emulator) reachable from here, and through which proxy? An unauthenticated
 * `GET /2.0/users/me` gets Box's 401 without touching any user; any HTTP answer proves the path. The answer's
 * `Date` header feeds the clock check.
 */
import { apiUrl } from '../../config.js';
import { sendRequest, type HttpContext } from '../http/request.js';
import { fail, messageOf, ok, warn, type DoctorCheck } from './types.js';

const NAME = 'api';

export interface ApiCheckResult {
  check: DoctorCheck;
  /** The server's Date header (ms) and our clock when the answer arrived. */
  serverDate?: { serverMs: number; localMs: number };
}

/** `proxy` is a description without credentials, e.g. `http://proxy.corp:3128 (from HTTPS_PROXY)`. */
export async function checkApi(
  http: HttpContext,
  apiBaseUrl: URL,
  proxy: string | undefined,
  now: () => number,
): Promise<ApiCheckResult> {
  const via = proxy === undefined ? 'direct, no proxy' : `via ${proxy}`;
  try {
    const res = await sendRequest(http, { method: 'GET', url: apiUrl(apiBaseUrl, '/2.0/users/me'), timeoutMs: 10_000 });
    const localMs = now();
    const date = Date.parse(res.headers.date ?? '');
    const serverDate = Number.isFinite(date) ? { serverMs: date, localMs } : undefined;
    const check =
      res.status === 401 || (res.status >= 200 && res.status < 300)
        ? ok(NAME, `${apiBaseUrl.origin} answered (${via})`)
        : warn(
            NAME,
            `${apiBaseUrl.origin} answered ${res.status} where Box answers 401 (${via})`,
            'check BOX_API_BASE_URL (https://api.box.com, or the emulator URL) and the proxy',
          );
    return serverDate ? { check, serverDate } : { check };
  } catch (err) {
    return {
      check: fail(
        NAME,
        `${apiBaseUrl.origin} is not reachable (${via}): ${messageOf(err)}`,
        proxy === undefined
          ? 'check the network and BOX_API_BASE_URL; behind a proxy set HTTPS_PROXY'
          : 'check the proxy in HTTPS_PROXY/NO_PROXY and BOX_API_BASE_URL',
      ),
    };
  }
}

/** Token expiry is computed from our clock (access_token_expires_at): a skew over 60 s makes it wrong. */
export function checkClock(serverDate: ApiCheckResult['serverDate'], maxSkewMs = 60_000): DoctorCheck {
  const name = 'clock';
  if (serverDate === undefined) {
    return warn(name, 'could not compare the clock: Box sent no Date header', 'keep this host on NTP (timedatectl)');
  }
  // Date has 1 s resolution: up to 1 s of the difference is rounding.
  const skewMs = serverDate.localMs - serverDate.serverMs;
  const seconds = Math.round(Math.abs(skewMs) / 1000);
  const direction = skewMs > 0 ? 'ahead of' : 'behind';
  if (Math.abs(skewMs) > maxSkewMs) {
    return warn(
      name,
      `the local clock is ${seconds} s ${direction} Box's (token expiry times depend on it)`,
      'synchronise this host with NTP (timedatectl set-ntp true, or chrony)',
    );
  }
  return ok(name, `the local clock is within ${Math.max(seconds, 1)} s of Box's`);
}
