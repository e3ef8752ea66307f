/**
 * The webhook transport (BOX_QC_NOTIFY_URL): the event's exact bytes POSTed as JSON with
 * `X-Box-QC-Signature: sha256=<hex HMAC-SHA256 of the body>` keyed by BOX_QC_NOTIFY_SECRET; a 2xx is
 * delivered, anything else (a redirect included) is a failure to retry. 10 s in all.
 *
 * Plain node:http(s), not core/http: chat webhook URLs carry their secret in the path (Slack's
 * /services/T/B/XXXX), and core/http's debug lines and errors name the path. Here messages name the host
 * only. No proxy support (HTTP_PROXY is not used for the webhook).
 */
import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export const WEBHOOK_TIMEOUT_MS = 10_000;
export const SIGNATURE_HEADER = 'X-Box-QC-Signature';

export function signatureOf(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

export interface PostWebhookOptions {
  url: URL;
  secret: string;
  body: string;
  userAgent: string;
  timeoutMs?: number;
}

export function postWebhook(opts: PostWebhookOptions): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
  const host = opts.url.host;
  const send = opts.url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<void>((resolve, reject) => {
    const req = send(opts.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(opts.body),
        'user-agent': opts.userAgent,
        [SIGNATURE_HEADER]: signatureOf(opts.body, opts.secret),
      },
      signal: AbortSignal.timeout(timeoutMs),
    });
    req.on('response', (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) res.on('end', resolve).on('error', () => resolve());
      else reject(new Error(`the webhook at ${host} answered ${status}`));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.name === 'AbortError' || err.name === 'TimeoutError'
          ? `timed out after ${timeoutMs / 1000} s`
          : (err.code ?? 'network error');
      reject(new Error(`the webhook at ${host} failed: ${why}`));
    });
    req.end(opts.body);
  });
}
