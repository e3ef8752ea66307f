/**
 * Which Node modules a run of the built binary loads (start-up tests): a preload script, passed with
 * `-r`/`--require`, that records process.moduleLoadList at exit, less what was loaded before it ran.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function moduleListPreload(dir: string): { preload: string; loaded(): string[] } {
  const list = join(dir, 'modules.json');
  const preload = join(dir, 'preload.cjs');
  writeFileSync(
    preload,
    `const before = new Set(process.moduleLoadList);
process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(list)}, JSON.stringify(process.moduleLoadList.filter((m) => !before.has(m)))));`,
  );
  return { preload, loaded: () => JSON.parse(readFileSync(list, 'utf8')) as string[] };
}
