/**
 * `box-qc emulator`: the local Box (src/emulator, issue 4) as a foreground server for the demo, for trying
 * box-qc without a Box account, and for users' own CI. Prints the base URL and the `export BOX_...=` lines
 * on stdout (data), a summary on stderr, and runs until Ctrl-C / SIGTERM, then exits 0 (stopping is the
 * normal way to end it, not a failure).
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { ActionFactory } from './context.js';
import type { EmulatorClient, EmulatorOptions, RotationMode } from '../emulator/index.js';

interface EmulatorFlags {
  port: number;
  autoApprove?: boolean;
  approveAs?: string;
  rotation: RotationMode;
  items: number;
  seed: number;
  markerEnd: 'null' | 'empty' | 'absent';
  expiredToken: 'invalid_token' | 'expired_token';
  accessTokenTtl: number;
  loopbackAnyPort: boolean;
  clientId?: string;
  clientSecret?: string;
  redirectUri: string[];
}

function intIn(min: number, max: number) {
  return (raw: string): number => {
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    }
    return Number(raw);
  };
}

function oneOf<T extends string>(values: readonly T[]) {
  return (raw: string): T => {
    if (!(values as readonly string[]).includes(raw))
      throw new InvalidArgumentError(`expected one of: ${values.join(', ')}`);
    return raw as T;
  };
}

function shellQuote(v: string): string {
  return /^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}

/**
 * `defaults` is the emulator's own DEFAULT_CLIENT, passed in rather than imported: the emulator is loaded
 * only when this command runs (scripts/bundle.mjs keeps it out of the bundle), and a copy of its redirect URIs
 * here went stale once (it lacked http://[::1]/callback, issue 16 item 7).
 */
function toOptions(f: EmulatorFlags, defaults: EmulatorClient): EmulatorOptions {
  const opts: EmulatorOptions = {
    port: f.port,
    autoApprove: f.autoApprove === true,
    rotation: f.rotation,
    rootItems: f.items,
    seed: f.seed,
    markerEnd: f.markerEnd,
    expiredTokenVariant: f.expiredToken,
    accessTokenTtlSeconds: f.accessTokenTtl,
    loopbackAnyPort: f.loopbackAnyPort,
  };
  if (f.approveAs) opts.approveAs = f.approveAs;
  if (f.clientId || f.clientSecret || f.redirectUri.length > 0) {
    opts.clients = [
      {
        ...defaults,
        clientId: f.clientId ?? defaults.clientId,
        clientSecret: f.clientSecret ?? defaults.clientSecret,
        redirectUris: [...f.redirectUri, ...defaults.redirectUris],
        ...(defaults.scopes ? { scopes: [...defaults.scopes] } : {}),
      },
    ];
  }
  return opts;
}

export function registerEmulator(program: Command, action: ActionFactory): void {
  program
    .command('emulator')
    .description('run a local Box emulator on 127.0.0.1 (for demos, tests and your own CI)')
    .option('--port <n>', 'port to listen on (0 = any free port)', intIn(0, 65535), 0)
    .option('--auto-approve', 'skip the consent page: authorize redirects at once with a code')
    .option('--approve-as <login>', 'the Box user who signs in (default alice@example.com; unknown logins are created)')
    .option(
      '--rotation <mode>',
      'refresh-token rotation: strict, box-grace or family',
      oneOf(['strict', 'box-grace', 'family'] as const),
      'strict',
    )
    .option('--items <n>', 'items in the root folder 0 (generated on demand)', intIn(0, 100_000_000), 250)
    .option('--seed <n>', 'seed for the generated folder tree', intIn(0, 2 ** 31), 1)
    .option(
      '--marker-end <variant>',
      'end of a marker listing: null, empty or absent',
      oneOf(['null', 'empty', 'absent'] as const),
      'null',
    )
    .option(
      '--expired-token <variant>',
      'WWW-Authenticate error for expired tokens: invalid_token or expired_token',
      oneOf(['invalid_token', 'expired_token'] as const),
      'invalid_token',
    )
    .option('--access-token-ttl <seconds>', 'access token lifetime', intIn(1, 86_400), 3600)
    .option('--no-loopback-any-port', 'require the exact registered port for loopback redirect URIs')
    .option('--client-id <id>', "the emulated app's client id (default emulator-client-id)")
    .option('--client-secret <secret>', "the emulated app's client secret (default emulator-client-secret)")
    .option(
      '--redirect-uri <uri>',
      'register another redirect URI (repeatable)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .addHelpText(
      'after',
      `
Prints the base URL, then the lines that point box-qc at the emulator, on stdout; runs until Ctrl-C
(exit 0). The client secret printed is the emulator's own made-up one, never a real Box secret.
Control API for scripts (JSON): POST <url>/__emulator/mint {"login":"a@example.com"},
GET <url>/__emulator/stats, POST <url>/__emulator/clock/advance {"ms":3600000}, POST <url>/__emulator/faults.

Examples:
  $ box-qc emulator --auto-approve --port 8787
  $ box-qc emulator --rotation box-grace --items 1000000
  $ box-qc emulator --auto-approve > emu.env &   # then: . <(grep ^export emu.env); box-qc connect --email me@example.com`,
    )
    .action(
      action<EmulatorFlags>(async (ctx, flags) => {
        const { startEmulator, DEFAULT_CLIENT } = await import('../emulator/index.js');
        const emu = await startEmulator(toOptions(flags, DEFAULT_CLIENT));
        const env = emu.env();
        if (ctx.out.isJson) ctx.out.json({ url: emu.url, env });
        else {
          const lines = [emu.url, ...Object.entries(env).map(([k, v]) => `export ${k}=${shellQuote(v)}`)];
          await ctx.out.data(`${lines.join('\n')}\n`);
        }
        const o = emu.options();
        ctx.out.info(
          `Box emulator listening on ${emu.url} (rotation ${o.rotation}, ${o.autoApprove ? 'auto-approve' : 'consent page'} as ${o.approveAs}, ${o.rootItems} items in folder 0)`,
        );
        ctx.out.info('Press Ctrl-C to stop.');
        const signal = ctx.deps.interrupts.signal;
        await new Promise<void>((resolve) => {
          if (signal.aborted) resolve();
          else signal.addEventListener('abort', () => resolve(), { once: true });
        });
        await emu.close();
        ctx.out.info('Box emulator stopped.');
        return 0;
      }),
    );
}
