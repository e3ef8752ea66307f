/**
 * The fault suite's laboratory: an emulator behind a recording proxy, a store folder, and the built CLI
 * spawned asynchronously (the emulator lives in this process). Every spawned process has its stdout, stderr
 * and /proc/<pid>/cmdline kept, so secret hygiene (reliability.md T13) is checked across every test.
 *
 * BOX_QC_FAULTS_DIST points at another build of dist/ (default: the repository's dist/, run through
 * bin/box-qc.js), so a long soak is not disturbed by someone rebuilding dist/ meanwhile.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CLIENT, startEmulator, type Emulator, type EmulatorOptions } from '../../../src/emulator/index.js';
import { cleanEnv, type CliResult } from '../../helpers/run-cli.js';
import { seedStore } from '../../helpers/seed-store.js';
import { assertDistFresh } from '../../helpers/dist-fresh.js';
import { startTokenProxy, type TokenProxy } from './token-proxy.js';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
/** What bin/box-qc.js runs: the bundle (dist/cli/main.cjs) when present, else tsc's dist/main.js. */
function distEntry(dist: string): string {
  const bundle = join(dist, 'cli', 'main.cjs');
  return existsSync(bundle) ? bundle : join(dist, 'main.js');
}

/** The script a user would run: bin/box-qc.js (-> dist/main.js), or $BOX_QC_FAULTS_DIST/main.js. */
export const MAIN = process.env.BOX_QC_FAULTS_DIST
  ? distEntry(process.env.BOX_QC_FAULTS_DIST)
  : join(REPO, 'bin', 'box-qc.js');
export const DIST = process.env.BOX_QC_FAULTS_DIST ?? join(REPO, 'dist');

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface Pair {
  access_token: string;
  refresh_token: string;
}

export interface StartOptions {
  env?: Record<string, string>;
  /** Program and arguments placed before `node MAIN` (strace, setpriv, sh -c ...). */
  wrap?: string[];
  /** Hard bound on the process (SIGKILL after), default 120 s: every loop is bounded in time. */
  timeoutMs?: number;
  /** Run `node MAIN args` through `sh -c` with this prefix (e.g. "umask 000;"). */
  shellPrefix?: string;
  /** Another script to run with node instead of the CLI (test/faults/helpers/store-op.mjs). */
  script?: string;
}

export interface Started {
  child: ChildProcess;
  startedAt: number;
  done: Promise<CliResult & { wallMs: number }>;
}

export interface FaultLab {
  emu: Emulator;
  proxy: TokenProxy;
  root: string;
  dir: string;
  storePath: string;
  clientSecret: string;
  env(extra?: Record<string, string>): Record<string, string>;
  start(args: string[], opts?: StartOptions): Started;
  cli(args: string[], opts?: StartOptions): Promise<CliResult & { wallMs: number }>;
  /** A fresh grant for `login`, as `connect` would store it (no browser). */
  mint(login: string): Pair;
  seed(users: Record<string, Pair & { expired?: boolean; extra?: Record<string, unknown> }>): Promise<void>;
  readRaw(): Promise<string>;
  /** Every secret the emulator issued or was sent, plus the client secret. */
  secrets(): Set<string>;
  /** Every pair the emulator issued (minted or rotated). */
  issued(): Set<string>;
  /** Places where a secret was found: captured output or a command line. */
  leaks(): string[];
  /** Waits until the emulator has answered every forwarded request (a killed client's POST commits late). */
  settle(maxMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startFaultLab(options: EmulatorOptions & { rootDir?: string } = {}): Promise<FaultLab> {
  const clientSecret = randomBytes(24).toString('hex');
  const { rootDir, ...emuOptions } = options;
  const emu = await startEmulator({ port: 0, clients: [{ ...DEFAULT_CLIENT, clientSecret }], ...emuOptions });
  const proxy = await startTokenProxy(emu.url);
  const root = rootDir ?? (await mkdtemp(join(tmpdir(), 'boxqc-faults-')));
  const dir = join(root, 'box-qc');
  const storePath = join(dir, 'tokens.json');
  const minted = new Set<string>();
  const mintedPairs = new Set<string>();
  const outputs: Array<{ what: string; text: string }> = [];
  const cmdlines: Array<{ what: string; text: string }> = [];

  const env = (extra: Record<string, string> = {}) => ({
    ...emu.env(),
    BOX_API_BASE_URL: proxy.url,
    BOX_QC_STORE: storePath,
    BOX_QC_RETRY_BASE_MS: '20',
    BOX_QC_LOCK_WAIT_MS: '15000',
    // A save fault that never heals gives up after this instead of the real 60 s (core/session-save.ts).
    BOX_QC_SAVE_BUDGET_MS: '1500',
    ...extra,
  });

  const sampleCmdlines = async (pid: number, what: string, depth = 0): Promise<void> => {
    try {
      const raw = await readFile(`/proc/${pid}/cmdline`);
      cmdlines.push({ what: `${what} pid ${pid}`, text: raw.toString('utf8').replace(/\0/g, ' ') });
      if (depth > 3) return;
      const kids = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim().split(/\s+/).filter(Boolean);
      await Promise.all(kids.map((k) => sampleCmdlines(Number(k), what, depth + 1)));
    } catch {
      // gone already
    }
  };

  const start = (args: string[], opts: StartOptions = {}): Started => {
    // A soak's own copy of dist/ (BOX_QC_FAULTS_DIST) is meant to outlive src/ edits: only the repository's is checked.
    if (!process.env.BOX_QC_FAULTS_DIST) assertDistFresh();
    const nodeArgv = [process.execPath, opts.script ?? MAIN, ...args];
    let argv = [...(opts.wrap ?? []), ...nodeArgv];
    if (opts.shellPrefix !== undefined) {
      const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
      argv = ['/bin/sh', '-c', `${opts.shellPrefix} exec ${quoted}`];
    }
    const startedAt = Date.now();
    const child = spawn(argv[0]!, argv.slice(1), { env: cleanEnv(env(opts.env)), stdio: ['ignore', 'pipe', 'pipe'] });
    const what = args.join(' ');
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    if (child.pid) {
      const pid = child.pid;
      setTimeout(() => void sampleCmdlines(pid, what), 40).unref();
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    const done = new Promise<CliResult & { wallMs: number }>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        outputs.push({ what: `${what} stdout`, text: stdout }, { what: `${what} stderr`, text: stderr });
        resolve({ code, signal, stdout, stderr, wallMs: Date.now() - startedAt });
      });
    });
    return { child, startedAt, done };
  };

  const lab: FaultLab = {
    emu,
    proxy,
    root,
    dir,
    storePath,
    clientSecret,
    env,
    start,
    cli: (args, opts) => start(args, opts).done,
    mint(login) {
      const m = emu.mint({ login });
      minted.add(m.access_token).add(m.refresh_token);
      mintedPairs.add(`${m.access_token} ${m.refresh_token}`);
      return { access_token: m.access_token, refresh_token: m.refresh_token };
    },
    seed: (users) =>
      seedStore(
        storePath,
        Object.fromEntries(
          Object.entries(users).map(([email, u]) => [
            email,
            {
              access_token: u.access_token,
              refresh_token: u.refresh_token,
              expiresInMs: u.expired ? -60_000 : undefined,
              extra: u.extra,
            },
          ]),
        ),
      ),
    readRaw: () => readFile(storePath, 'utf8'),
    secrets: () => new Set([...proxy.secrets, ...minted, clientSecret]),
    issued: () => new Set([...proxy.pairs, ...mintedPairs]),
    leaks() {
      const secrets = lab.secrets();
      const found: string[] = [];
      for (const o of [...outputs, ...cmdlines]) {
        for (const s of findSecrets(o.text, secrets)) found.push(`${o.what}: ${s.slice(0, 4)}…`);
      }
      return found;
    },
    async settle(maxMs = 5000) {
      const end = Date.now() + maxMs;
      while (proxy.inFlight() > 0 && Date.now() < end) await sleep(10);
    },
    async close() {
      await proxy.close();
      await emu.close();
      if (!rootDir) await rm(root, { recursive: true, force: true }).catch(() => {});
    },
  };
  return lab;
}

/** Secrets in `text`: whole alphanumeric words and the 32/48/64-character windows of longer ones. */
export function findSecrets(text: string, secrets: Set<string>): string[] {
  const hits: string[] = [];
  for (const m of text.matchAll(/[A-Za-z0-9]{16,}/g)) {
    const w = m[0];
    if (secrets.has(w)) {
      hits.push(w);
      continue;
    }
    for (const len of [32, 48, 64]) {
      for (let i = 0; i + len <= w.length && w.length > len; i++) {
        const sub = w.slice(i, i + len);
        if (secrets.has(sub)) hits.push(sub);
      }
    }
  }
  return hits;
}
