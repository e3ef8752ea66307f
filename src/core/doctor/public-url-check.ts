/**
 * Connect links (issue 17): when BOX_QC_PUBLIC_URL is set, people open links under it, so `serve` must answer
 * there, through whatever proxy sits in front: `GET <public>/healthz` is 200 `ok` when serve and its store work.
 */
import { sendRequest, type HttpContext } from '../http/request.js';
import { fail, messageOf, ok, type DoctorCheck } from './types.js';

const NAME = 'public_url';

export type PublicUrlInput = { url: URL } | { error: string } | undefined;

export async function checkPublicUrl(http: HttpContext, input: PublicUrlInput): Promise<DoctorCheck> {
  if (input === undefined) return ok(NAME, 'BOX_QC_PUBLIC_URL is not set (connect links are off)');
  if ('error' in input) return fail(NAME, input.error, 'set BOX_QC_PUBLIC_URL to the https:// address of box-qc serve');
  const url = new URL(input.url.href.replace(/\/$/, '') + '/healthz');
  const fix = 'start `box-qc serve` and check the reverse proxy forwards this path to it (README: "Connect links")';
  try {
    const res = await sendRequest(http, { method: 'GET', url, timeoutMs: 10_000 });
    if (res.status === 200) return ok(NAME, `${url.origin}${url.pathname} answered 200`);
    return fail(NAME, `${url.origin}${url.pathname} answered ${res.status}, not 200`, fix);
  } catch (err) {
    return fail(NAME, `${url.origin}${url.pathname} is not reachable: ${messageOf(err)}`, fix);
  }
}
