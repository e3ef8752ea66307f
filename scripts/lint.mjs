// `npm run lint`: every check runs, even after one fails, so a single run lists everything to fix; the exit code
// is non-zero if any failed. Run through npm, which puts node_modules/.bin on PATH.
import { spawnSync } from 'node:child_process';

const checks = [
  ['depcruise', ['src', 'test', 'bench', 'scripts']], // import cycles and the dependency rule (.dependency-cruiser.cjs)
  ['prettier', ['--check', '.']], // formatting (.prettierrc.json)
  ['eslint', ['.']], // type-aware lint (eslint.config.js)
];

const failed = [];
for (const [cmd, args] of checks) {
  const started = Date.now();
  const r = spawnSync(cmd, args, { stdio: 'inherit', shell: process.platform === 'win32' });
  const ok = r.status === 0;
  if (!ok) failed.push(cmd);
  console.error(`lint: ${cmd} ${ok ? 'passed' : 'FAILED'} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}
if (failed.length > 0) {
  console.error(`lint: failed: ${failed.join(', ')}`);
  process.exitCode = 1;
}
