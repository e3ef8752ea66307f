// The "bare loop" baseline for bench/ls-throughput.js: the least a Node program can do to list a Box folder:
// one undici Agent, marker pages of 1000 (the same query box-qc sends), JSON.parse, `type\tid\tname` lines
// to stdout with back-pressure. No store, no retries, no validation, no escaping.
// Usage: node bench/lib/bare-ls.js <apiBaseUrl> <folderId> <accessToken>
import { Agent, request } from 'undici';

const [base, folderId, token] = process.argv.slice(2);
const dispatcher = new Agent({ keepAliveTimeout: 10_000 });
const write = (s) => (process.stdout.write(s) ? undefined : new Promise((r) => process.stdout.once('drain', r)));

let marker;
for (;;) {
  const url = new URL(`/2.0/folders/${folderId}/items`, base);
  url.searchParams.set('fields', 'type,id,name,sha1');
  url.searchParams.set('usemarker', 'true');
  url.searchParams.set('limit', '1000');
  if (marker) url.searchParams.set('marker', marker);
  const res = await request(url, {
    dispatcher,
    headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
  });
  const body = JSON.parse(await res.body.text());
  if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
  await write(body.entries.map((e) => `${e.type}\t${e.id}\t${e.name}\n`).join(''));
  if (typeof body.next_marker !== 'string' || body.next_marker === '') break;
  marker = body.next_marker;
}
await dispatcher.close();
