#!/usr/bin/env node
/**
 * `npm run test:pack` (CI, issue 21): proves the tarball `npm publish` would upload, not the checkout. Packs it,
 * installs it into a temporary prefix (dependencies come from the registry, nothing else from the network),
 * then runs the INSTALLED binary: `box-qc --version` (must equal package.json's), `box-qc emulator` (its export
 * lines must appear), and the demo (scripts/demo.js with BOX_QC_DEMO_PACKAGE pointing at the installed package:
 * connect, status, ls, refresh, token, disconnect against the packaged emulator). A file missing from `files`,
 * a dependency left in devDependencies or a broken bundle fails here.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const say = (line) => process.stdout.write(`pack: ${line}\n`);

async function main() {
  const { version, name } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
  const tmp = await mkdtemp(join(tmpdir(), 'box-qc-pack-'));
  try {
    const packed = await run('npm', ['pack', '--pack-destination', tmp, '--json'], { cwd: ROOT, maxBuffer: 1 << 26 });
    const [info] = JSON.parse(packed.stdout);
    say(`${info.filename}: ${info.entryCount} files, ${Math.round(info.size / 1024)} KiB`);
    const paths = new Set(info.files.map((f) => f.path));
    const required = ['LICENSE', 'README.md', 'package.json', 'bin/box-qc.js', 'dist/main.js', 'dist/index.js'];
    const absent = required.filter((p) => !paths.has(p));
    if (absent.length > 0) throw new Error(`the tarball lacks ${absent.join(', ')}`);
    const prefix = join(tmp, 'prefix');
    await run('npm', ['install', '--global', '--prefix', prefix, '--no-audit', '--no-fund', join(tmp, info.filename)], {
      cwd: tmp,
      maxBuffer: 1 << 26,
    });
    const bin = join(prefix, 'bin', 'box-qc');
    const pkgDir = join(prefix, 'lib', 'node_modules', name);

    const v = (await run(bin, ['--version'])).stdout.trim();
    if (v !== version) throw new Error(`installed box-qc --version printed ${JSON.stringify(v)}, expected ${version}`);
    say(`installed box-qc --version: ${v}`);

    await runsTheBundle(bin, tmp);
    say('installed box-qc runs its bundle (dist/cli/main.cjs)');

    await emulatorStarts(bin);
    say('installed box-qc emulator printed its export lines');

    const demo = await run(process.execPath, [join(ROOT, 'scripts', 'demo.js')], {
      env: { ...cleanEnv(), BOX_QC_DEMO_PACKAGE: pkgDir, BOX_QC_DEMO: 'emulator' },
      maxBuffer: 1 << 26,
    });
    if (!/Demo passed/.test(demo.stdout)) throw new Error(`the demo did not pass:\n${demo.stdout}`);
    say('the demo passed against the installed package');
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * The installed binary runs dist/cli/main.cjs, not tsc's output: npm unpacks dist/main.js after dist/cli/, so a
 * staleness check by file times would fall back on every run (review of issue 20). A failing `status --debug`
 * (the store path is a folder) prints a stack trace that names the file that ran.
 */
async function runsTheBundle(bin, tmp) {
  const store = join(tmp, 'store-is-a-folder');
  await mkdir(store);
  const r = await run(bin, ['status', '--debug'], { env: { ...cleanEnv(), BOX_QC_STORE: store } }).catch((e) => e);
  if (r.code !== 2 || !String(r.stderr).includes('box-qc/dist/cli/main.cjs'))
    throw new Error(`the installed box-qc did not run its bundle (exit ${r.code}):\n${r.stderr}`);
  // The code cache keeps the name its script was compiled under: never this checkout's path (review of issue 20).
  if (String(r.stderr).includes(ROOT))
    throw new Error(`the installed box-qc names the build folder ${ROOT}:\n${r.stderr}`);
}

/** The environment without Box settings, so the demo runs the emulator and nothing points at this checkout. */
function cleanEnv() {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('BOX_')) delete env[k];
  return env;
}

function emulatorStarts(bin) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['emulator', '--port', '0'], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`box-qc emulator printed no export lines in 20 s:\n${out}`));
    }, 20_000);
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      if (/^export BOX_API_BASE_URL=/m.test(out)) {
        clearTimeout(timer);
        child.kill('SIGINT');
        child.once('exit', () => resolve());
      }
    });
    child.once('error', reject);
  });
}

main().catch((err) => {
  process.stderr.write(`pack: FAILED: ${err.message}\n`);
  process.exit(1);
});
