// The floor under one user's `refresh --email E --force` in bench/store-scale.js, measured the same way as the
// command: the store work of bench/lib/bare-commit.js with the Box round trip between its two commits. Read and
// JSON.parse the store; commit the in-flight marker (reliability.md F8); POST the refresh token to
// ${BOX_API_BASE_URL}/oauth2/token with node:http; commit the new pair. No lock, no validation, no
// reservation, no history, no retry. Each durable commit: JSON.stringify with 2-space indent, a temporary file,
// fsync, rename over the store, fsync of the folder.
// Usage: node bench/lib/bare-refresh.js <store path> <email>   (env: BOX_API_BASE_URL, BOX_CLIENT_ID, BOX_CLIENT_SECRET)
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { durableCommit } from './durable-commit.js';

const [file, email] = process.argv.slice(2);
const doc = JSON.parse(readFileSync(file, 'utf8'));
const commit = () => durableCommit(file, doc, 'bare-refresh');

function post(url, form) {
  return new Promise((resolve, reject) => {
    const body = new URLSearchParams(form).toString();
    const req = request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      (res) => {
        const parts = [];
        res.on('data', (b) => parts.push(b));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          if (res.statusCode !== 200) reject(new Error(`token endpoint answered ${res.statusCode}`));
          else resolve(JSON.parse(text));
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const user = doc.users[email];
doc.users[email] = { ...user, refresh_in_flight: { started_at: new Date().toISOString() } };
commit();
const pair = await post(`${process.env.BOX_API_BASE_URL}/oauth2/token`, {
  grant_type: 'refresh_token',
  refresh_token: user.refresh_token,
  client_id: process.env.BOX_CLIENT_ID,
  client_secret: process.env.BOX_CLIENT_SECRET,
});
const rest = { ...doc.users[email] };
delete rest.refresh_in_flight;
doc.users[email] = {
  ...rest,
  access_token: pair.access_token,
  refresh_token: pair.refresh_token,
  access_token_expires_at: new Date(Date.now() + pair.expires_in * 1000).toISOString(),
  updated_at: new Date().toISOString(),
};
commit();
