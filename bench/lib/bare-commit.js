// The "floor" under one user's refresh in bench/store-scale.js: the store work the refresh protocol needs, and
// nothing else. Read and JSON.parse the store, then two durable commits of the whole file, as a refresh makes
// (the in-flight marker before Box is called, then the new pair: reliability.md F8): change one record,
// JSON.stringify with 2-space indent, write a temporary file, fsync, rename over the store, fsync the folder.
// No lock, no validation, no network. Usage: node bench/lib/bare-commit.js <store path>
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

const file = process.argv[2];
const dir = dirname(file);
const doc = JSON.parse(readFileSync(file, 'utf8'));
const first = Object.keys(doc.users)[0];
for (const step of ['marker', 'saved']) {
  doc.users[first] = { ...doc.users[first], bench_step: step };
  const bytes = Buffer.from(`${JSON.stringify(doc, null, 2)}\n`);
  const tmp = join(dir, `.bare-commit-${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off);
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, file);
  const dfd = openSync(dir, 'r');
  fsyncSync(dfd);
  closeSync(dfd);
}
