// Appends `count` entries to the file history of `store` from its own process (issue 18: concurrent
// appenders never interleave; rotation by one process only). Loads the built dist/.
// argv: <store path> <worker id> <count> <maxBytes> <barrier file>
import { existsSync } from 'node:fs';
import { openFileHistory } from '../../dist/core/history/file-history.js';

const [store, id, count, maxBytes, barrier] = process.argv.slice(2);
const log = openFileHistory(store, {
  facts: { host: 'test', pid: process.pid, os_user: 'w', command: `worker ${id}` },
  maxBytes: Number(maxBytes),
  onWarning: (line) => process.stderr.write(`${line}\n`),
});
while (!existsSync(barrier)) await new Promise((r) => setTimeout(r, 5));
for (let i = 0; i < Number(count); i++) {
  // Lengths vary from a few bytes to the 500-character detail cap so that a torn or interleaved write could not go unseen.
  const detail = `${id}:${i}:`.padEnd(((i * 37) % 480) + 8, String.fromCharCode(97 + (Number(id) % 26)));
  await log.append({ event: 'refresh', email: `w${id}@example.com`, outcome: 'refreshed', detail });
}
