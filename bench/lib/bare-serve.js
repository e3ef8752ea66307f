// The "floor" under bench/serve-flows.js: what any connect-link server must do per flow, and nothing else.
// GET /connect/<token> -> 302 to the authorize URL with an HMAC-signed state and a PKCE challenge derived from
// it; GET /callback -> check the state's HMAC, exchange the code (node:http keep-alive agent, as box-qc's
// transport), GET users/me, answer a small page. No store, no lock, no fsync, no invite records, no history,
// no access log. Same listen line on stderr as `box-qc serve`. Usage: node bench/lib/bare-serve.js <port>
// (env: BOX_AUTHORIZE_URL, BOX_API_BASE_URL or BOX_OAUTH_BASE_URL as box-qc reads them, BOX_CLIENT_ID,
// BOX_CLIENT_SECRET, BOX_QC_PUBLIC_URL).
// With a store path (`bare-serve.js <port> <store>`): the durable floor. The same flows plus the least store
// work a connect-link server that keeps its promises must do: the state recorded as spent durably before the
// code is exchanged (what refusing a replay needs written; the floor does not check it), the grant and the used
// invite saved durably after. One process,
// the document in memory (no re-reads, no lock, no validation, no history), every change group-committed:
// the changes that arrive while a commit is being written go into the next one, each commit one whole-file
// JSON write, fsync, rename and folder fsync (durable-commit.js's steps, asynchronous so the server keeps
// serving). The store starts as a copy of the serve's and grows as it does: a user and an invite per flow.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import { durableCommitAsync } from './durable-commit.js';

const port = Number(process.argv[2]);
const storePath = process.argv[3];
const doc = storePath ? JSON.parse(readFileSync(storePath, 'utf8')) : undefined;
if (doc) {
  doc.users ??= {};
  doc.invites ??= {};
}
/** Group commit: each change waits for the first commit that starts after it was made. */
let queued = [];
let writing = false;
function durably(change) {
  return new Promise((resolve, reject) => {
    queued.push({ change, resolve, reject });
    if (!writing) void drain();
  });
}
async function drain() {
  writing = true;
  while (queued.length > 0) {
    const batch = queued;
    queued = [];
    for (const b of batch) b.change(doc);
    try {
      await durableCommitAsync(storePath, doc, 'bare-serve');
      for (const b of batch) b.resolve();
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  }
  writing = false;
}
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
      const nonce = `${randomBytes(16).toString('base64url')}~${url.pathname.slice('/connect/'.length)}`;
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
      const state = url.searchParams.get('state') ?? '';
      const dot = state.lastIndexOf('.');
      const [nonce, sig] = dot < 0 ? ['', ''] : [state.slice(0, dot), state.slice(dot + 1)];
      const want = Buffer.from(mac(nonce));
      if (Buffer.from(sig).length !== want.length || !timingSafeEqual(Buffer.from(sig), want))
        return page(res, 400, 'bad state');
      const email = `bare-${nonce.split('~')[1]}@example.com`;
      const invite = createHash('sha256').update(nonce).digest('hex');
      const at = () => new Date().toISOString();
      if (doc) {
        await durably((d) => {
          const t = at();
          d.invites[invite] = { email, created_at: t, expires_at: t, state: 'pending', spent_states: [nonce] };
        });
      }
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
      if (doc) {
        const { refresh_token, expires_in } = JSON.parse(tok.text);
        await durably((d) => {
          const t = at();
          const generation = (d.users[email]?.generation ?? 0) + 1;
          d.users[email] = {
            access_token,
            refresh_token,
            access_token_expires_at: new Date(Date.now() + expires_in * 1000).toISOString(),
            refresh_token_expires_at: t,
            connected_at: t,
            refreshed_at: t,
            generation,
            box: { id: String(JSON.parse(me.text).id), login },
          };
          Object.assign(d.invites[invite], { state: 'used', used_at: t });
        });
      }
      return page(res, 200, `Connected as ${String(login).replace(/[<&>"']/g, '')}`);
    }
    page(res, 404, 'not found');
  } catch {
    page(res, 500, 'error');
  }
}).listen(port, '127.0.0.1', () => process.stderr.write(`listening on http://127.0.0.1:${port}\n`));
process.on('SIGTERM', () => process.exit(0));
