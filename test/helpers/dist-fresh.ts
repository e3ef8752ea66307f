/**
 * Tests that spawn the built code (bin/box-qc.js -> dist/, or a dist/ module in a child process) must not
 * test an old build: a src/ edit without `npm run build` would otherwise pass or fail against yesterday's
 * code (issue 16 item 5). The newest file under src/ is compared with both entries the binary can run,
 * tsc's dist/main.js and the bundle dist/cli/main.cjs.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

function newestFile(dir: string): { path: string; mtimeMs: number } | undefined {
  let newest: { path: string; mtimeMs: number } | undefined;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const found = entry.isDirectory() ? newestFile(path) : { path, mtimeMs: statSync(path).mtimeMs };
    if (found && (!newest || found.mtimeMs > newest.mtimeMs)) newest = found;
  }
  return newest;
}

function mtimeOf(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Why `root`'s dist/ may not be tested (missing, or older than a file under src/), or undefined when fresh. */
export function staleDistReason(root: string = REPO): string | undefined {
  const newest = newestFile(join(root, 'src'));
  for (const entry of [join('dist', 'main.js'), join('dist', 'cli', 'main.cjs')]) {
    const built = mtimeOf(join(root, entry));
    if (built === undefined) return `${entry} is missing: run npm run build`;
    if (newest && newest.mtimeMs > built) {
      return `${entry} is older than ${relative(root, newest.path)}: run npm run build`;
    }
  }
  return undefined;
}

let checked: string | undefined | null = null;

/** Throws when the repository's dist/ is missing or older than src/. Checks once per test process. */
export function assertDistFresh(): void {
  if (checked === null) checked = staleDistReason();
  if (checked !== undefined) throw new Error(`refusing to test a stale build: ${checked}`);
}
