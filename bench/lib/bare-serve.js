// The "floor" under bench/serve-flows.js: what any connect-link server must do per flow, and nothing else.
// GET /connect/<token> -> 302 to the authorize URL with an HMAC-signed state and a PKCE challenge derived from
// it; GET /callback -> check the state's HMAC, exchange the code (node:http keep-alive agent, as box-qc's
// transport), GET users/me, answer a small page. No store, no lock, no fsync, no invite records, no history,
// no access log. Same listen line on stderr as `box-qc serve`. Usage: node bench/lib/bare-serve.js <port>
// (env: BOX_AUTHORIZE_URL, BOX_API_BASE_URL or BOX_OAUTH_BASE_URL as box-qc reads them, BOX_CLIENT_ID,
// BOX_CLIENT_SECRET, BOX_QC_PUBLIC_URL).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Agent, createServer, request } from 'node:http';

const port = Number(process.argv[2]);
const env = process.env;
const key = randomBytes(32);
const redirectUri = `${env.BOX_QC_PUBLIC_URL}/callback`;
const tokenUrl = new URL(`${env.BOX_OAUTH_BASE_URL ?? env.BOX_API_BASE_URL}/oauth2/token`);
const meUrl = new URL(`${env.BOX_API_BASE_URL}/2.0/users/me`);
const agent = new Agent({ keepAlive: true });
const mac = (s) => createHmac('sha256', key).update(s).digest('base64url');
const verifierOf = (nonce) => mac(`pkce\0${nonce}`);

function send(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const page = (res, status, text) => {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!doctype html><title>box-qc</title><p>${text}</p>`);
};

createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://x');
    if (url.pathname.startsWith('/connect/')) {
      const nonce = randomBytes(16).toString('base64url');
      const state = `${nonce}.${mac(nonce)}`;
      const a = new URL(env.BOX_AUTHORIZE_URL);
      a.searchParams.set('response_type', 'code');
      a.searchParams.set('client_id', env.BOX_CLIENT_ID);
      a.searchParams.set('redirect_uri', redirectUri);
      a.searchParams.set('state', state);
      a.searchParams.set('code_challenge', createHash('sha256').update(verifierOf(nonce)).digest('base64url'));
      a.searchParams.set('code_challenge_method', 'S256');
      res.writeHead(302, { location: a.href, 'cache-control': 'no-store' });
      return res.end();
    }
    if (url.pathname === '/callback') {
      const [nonce = '', sig = ''] = (url.searchParams.get('state') ?? '').split('.');
      const want = Buffer.from(mac(nonce));
      if (Buffer.from(sig).length !== want.length || !timingSafeEqual(Buffer.from(sig), want))
        return page(res, 400, 'bad state');
      const tok = await send(tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: url.searchParams.get('code') ?? '',
          code_verifier: verifierOf(nonce),
          redirect_uri: redirectUri,
          client_id: env.BOX_CLIENT_ID,
          client_secret: env.BOX_CLIENT_SECRET,
        }).toString(),
      });
      if (tok.status !== 200) return page(res, 502, 'exchange failed');
      const { access_token } = JSON.parse(tok.text);
      const me = await send(meUrl, { headers: { authorization: `Bearer ${access_token}` } });
      const login = JSON.parse(me.text).login;
      return page(res, 200, `Connected as ${String(login).replace(/[<&>"']/g, '')}`);
    }
    page(res, 404, 'not found');
  } catch {
    page(res, 500, 'error');
  }
}).listen(port, '127.0.0.1', () => process.stderr.write(`listening on http://127.0.0.1:${port}\n`));
process.on('SIGTERM', () => process.exit(0));
