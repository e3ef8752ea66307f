// The durable whole-file commit of the bare floors (bare-commit.js, bare-refresh.js): JSON.stringify with
// 2-space indent, a temporary file in the same folder, every byte written, fsync, rename over the store, fsync
// of the folder. What the file store's atomic write does, with no checks.
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export function durableCommit(file, doc, tag) {
  const dir = dirname(file);
  const bytes = Buffer.from(`${JSON.stringify(doc, null, 2)}\n`);
  const tmp = join(dir, `.${tag}-${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off);
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, file);
  const dfd = openSync(dir, 'r');
  fsyncSync(dfd);
  closeSync(dfd);
}

/** The same steps with node:fs/promises, for a server that keeps serving while it commits (bare-serve.js). */
export async function durableCommitAsync(file, doc, tag) {
  const dir = dirname(file);
  const bytes = Buffer.from(`${JSON.stringify(doc, null, 2)}\n`);
  const tmp = join(dir, `.${tag}-${process.pid}.tmp`);
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
