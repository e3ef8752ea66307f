// `npm run lint`: every check runs, even after one fails, so a single run lists everything to fix; the exit code
// is non-zero if any failed. ESLint (type-aware, the slow one) runs beside the other two, which share the second
// core one after the other: on a 2-core machine the run takes about as long as ESLint alone. Each check's output
// is held and printed whole when it ends, so lines of different tools never interleave.
// Run through npm, which puts node_modules/.bin on PATH.
import { spawn } from 'node:child_process';

// The lane beside ESLint runs at a lower CPU priority (nice, where there is one): ESLint is the long pole, and
// two tools sharing two cores evenly made it ~10 s slower than alone (42-47 s against 35 s).
const lanes = [
  {
    nice: true,
    steps: [
      ['depcruise', ['src', 'test', 'bench', 'scripts']], // import cycles and the dependency rule (.dependency-cruiser.cjs)
      ['prettier', ['--check', '.']], // formatting (.prettierrc.json)
    ],
  },
  { nice: false, steps: [['eslint', ['.']]] }, // type-aware lint (eslint.config.js)
];
const canNice = process.platform !== 'win32';

function run(cmd, args, nice) {
  return new Promise((resolve) => {
    const started = Date.now();
    const [file, argv] = nice && canNice ? ['nice', ['-n', '15', cmd, ...args]] : [cmd, args];
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], shell: process.platform === 'win32' });
    const chunks = [];
    child.stdout.on('data', (c) => chunks.push(c));
    child.stderr.on('data', (c) => chunks.push(c));
    const done = (ok, extra = '') => {
      process.stdout.write(Buffer.concat(chunks));
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      console.log(`lint: ${cmd} ${ok ? 'passed' : 'FAILED'} (${secs} s)${extra}\n`);
      resolve(ok);
    };
    child.on('error', (err) => done(false, `: ${err.message}`));
    child.on('close', (code) => done(code === 0));
  });
}

const failed = [];
await Promise.all(
  lanes.map(async (lane) => {
    for (const [cmd, args] of lane.steps) if (!(await run(cmd, args, lane.nice))) failed.push(cmd);
  }),
);
if (failed.length > 0) {
  console.log(`lint: failed: ${failed.join(', ')}`);
  process.exitCode = 1;
}
