/**
 * Shared by the lifecycle end-to-end tests (refresh, token, ls, concurrency): an emulator per test, a store
 * seeded directly with emulator.mint() pairs (no browser), and the built binary run against both.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/index.js';
import { runCli, startCli, type CliResult } from '../helpers/run-cli.js';
import { seedStore, writeStoreDocument, type SeedUser } from '../helpers/seed-store.js';
import { iso } from '../helpers/time.js';

export interface Lab {
  emu: Emulator;
  storePath: string;
  env(extra?: Record<string, string>): Record<string, string>;
  cli(args: string[], extra?: Record<string, string>): Promise<CliResult>;
  start(args: string[], extra?: Record<string, string>): ReturnType<typeof startCli>;
  seed(users: Record<string, SeedUser>): Promise<void>;
  /** Mints a grant for each login and seeds it (access token expired when `expired`). */
  mintAndSeed(logins: string[], opts?: { expired?: boolean }): Promise<void>;
  readStore(): Promise<{
    version: number;
    users: Record<string, Record<string, unknown> & { access_token: string; refresh_token: string }>;
  }>;
  close(): Promise<void>;
}

export async function startLab(options: EmulatorOptions = {}): Promise<Lab> {
  const emu = await startEmulator({ port: 0, ...options });
  const root = await mkdtemp(join(tmpdir(), 'boxqc-lc-'));
  const dir = join(root, 'box-qc');
  const storePath = join(dir, 'tokens.json');
  const env = (extra: Record<string, string> = {}) => ({
    ...emu.env(),
    BOX_QC_STORE: storePath,
    BOX_QC_RETRY_BASE_MS: '20',
    BOX_QC_SAVE_BUDGET_MS: '10000',
    ...extra,
  });
  const lab: Lab = {
    emu,
    storePath,
    env,
    cli: (args, extra) => runCli(args, { env: env(extra), timeoutMs: 120_000 }),
    start: (args, extra) => startCli(args, { env: env(extra), timeoutMs: 120_000 }),
    seed: (users) => seedStore(storePath, users),
    async mintAndSeed(logins, opts = {}) {
      const users: Record<string, SeedUser> = {};
      for (const login of logins) {
        const m = emu.mint({ login });
        users[login] = {
          access_token: m.access_token,
          refresh_token: m.refresh_token,
          expiresInMs: opts.expired ? -60_000 : 50 * 60_000,
        };
      }
      await lab.seed(users);
    },
    async readStore() {
      return JSON.parse(await readFile(storePath, 'utf8'));
    },
    close: () => emu.close(),
  };
  return lab;
}

/** Marks every stored access token expired (between rounds; nobody else is writing then). */
export async function expireAll(lab: Lab): Promise<void> {
  const doc = await lab.readStore();
  for (const u of Object.values(doc.users)) u.access_token_expires_at = iso(Date.now() - 60_000);
  await writeStoreDocument(lab.storePath, doc);
}

export function refreshCount(lab: Lab): number {
  return lab.emu.stats().byGrantType.refresh_token ?? 0;
}

export function invalidGrantCount(lab: Lab): number {
  return lab.emu.requests.filter((r) => r.path === '/oauth2/token' && r.status === 400).length;
}
