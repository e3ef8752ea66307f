import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { staleDistReason } from '../../helpers/dist-fresh.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A repository with the given files, each with its mtime in seconds since the epoch. */
function repo(files: Record<string, number>): string {
  const root = mkdtempSync(join(tmpdir(), 'boxqc-dist-fresh-'));
  dirs.push(root);
  for (const [path, mtime] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), '');
    utimesSync(join(root, path), mtime, mtime);
  }
  return root;
}

describe('staleDistReason', () => {
  it('accepts a dist/ built after every file under src/', () => {
    const root = repo({ 'src/a.ts': 100, 'src/core/b.ts': 200, 'dist/main.js': 300, 'dist/cli/main.cjs': 301 });
    expect(staleDistReason(root)).toBeUndefined();
  });

  it('refuses a dist/ older than a file deep under src/, naming it and saying to run npm run build', () => {
    const reason = staleDistReason(
      repo({ 'src/a.ts': 100, 'src/core/store/b.ts': 400, 'dist/main.js': 300, 'dist/cli/main.cjs': 301 }),
    );
    expect(reason).toBe(
      `${join('dist', 'main.js')} is older than ${join('src', 'core', 'store', 'b.ts')}: run npm run build`,
    );
  });

  it('refuses a bundle older than src/ even when tsc output is fresh (tsc run alone after an edit)', () => {
    const reason = staleDistReason(repo({ 'src/a.ts': 200, 'dist/main.js': 300, 'dist/cli/main.cjs': 100 }));
    expect(reason).toMatch(/main\.cjs is older than src.a\.ts: run npm run build$/);
  });

  it('refuses a missing build', () => {
    expect(staleDistReason(repo({ 'src/a.ts': 100 }))).toMatch(/main\.js is missing: run npm run build$/);
  });
});
