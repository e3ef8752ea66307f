// The "floor" under one user's refresh in bench/store-scale.js: the store work the refresh protocol needs, and
// nothing else. Read and JSON.parse the store, then two durable commits of the whole file, as a refresh makes
// (the in-flight marker before Box is called, then the new pair: reliability.md F8): change one record,
// JSON.stringify with 2-space indent, write a temporary file, fsync, rename over the store, fsync the folder.
// No lock, no validation, no network. Usage: node bench/lib/bare-commit.js <store path>
import { readFileSync } from 'node:fs';
import { durableCommit } from './durable-commit.js';

const file = process.argv[2];
const doc = JSON.parse(readFileSync(file, 'utf8'));
const first = Object.keys(doc.users)[0];
for (const step of ['marker', 'saved']) {
  doc.users[first] = { ...doc.users[first], bench_step: step };
  durableCommit(file, doc, 'bare-commit');
}
