/**
 * createProgram(deps): a fresh commander program per call, with exitOverride and configureOutput so that
 * nothing calls process.exit and every write goes through the streams in deps. run() returns the exit code;
 * only main.ts hands it to the process.
 */
import { Command, CommanderError } from 'commander';
import { loadConfig, resolveStore, type Config } from './config.js';
import { applyEnvFile, readEnvFile } from './env-file.js';
import { redactUsageMessage } from './usage-message.js';
import type { Deps } from './deps.js';
import { BoxQcError, ConfigError, ExitCode, InterruptedError } from './errors.js';
import { openOutput } from './io/output.js';
import { renderError, errorToJson } from './io/render-error.js';
import { withReconnectHint } from './commands/shared/reconnect-hint.js';
import { dataText, terminalText } from './io/terminal-safe.js';
import { VERSION } from './version.js';
import { registerCommands } from './commands/index.js';

import type { ActionFactory, CommandContext, GlobalOptions } from './commands/context.js';

export function createProgram(deps: Deps, setExitCode: (code: number) => void): Command {
  const program = new Command();
  program
    .name('box-qc')
    .description('Connect Box.com accounts over OAuth 2.0 and keep the connections alive for automation.')
    .version(VERSION, '-V, --version', 'print the box-qc version')
    .option(
      '--store <path>',
      'token store: a file path or a postgres:// URL (default: $BOX_QC_STORE, else $XDG_CONFIG_HOME/box-qc/tokens.json)',
    )
    .option('--json', 'machine-readable output: one JSON document on stdout')
    .option('--no-color', 'no colour in output (NO_COLOR is honoured too)')
    .option('--debug', 'log HTTP method, path and status, and show stack traces (never tokens or bodies)')
    .option('--env-file <path>', 'load variables from a .env file (variables already set win)')
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      // Help and commander's errors quote argv: filtered like every other line (io/terminal-safe.ts).
      writeOut: (s) => safeWrite(deps.stdout, dataText(s)),
      writeErr: (s) => safeWrite(deps.stderr, terminalText(s)),
      // Commander's own one-line error, with no typed value in it (usage-message.ts); run() adds the usage line.
      outputError: (s, write) => write(`${redactUsageMessage(s)}\n`),
    })
    .addHelpText(
      'after',
      `
Exit codes:
  0    success (including "nothing to do")
  1    the operation failed (Box refused it, the browser step timed out, output could not be written,
       a rotated pair could not be saved (E_ROTATION_NOT_SAVED), internal error)
  2    usage or configuration problem, or an unreadable / corrupt token store
  4    reconnect required (not connected, or Box rejected the refresh token)
  75   temporary failure (network, Box 5xx/429, store busy): try again later; the message says whether
       a refresh may have reached Box (the next run then replays it)
  130  interrupted

Examples:
  $ box-qc connect --email alice@example.com
  $ box-qc status
  $ box-qc ls 0 --email alice@example.com
  $ box-qc refresh --all          # from cron
  $ curl -H "Authorization: Bearer $(box-qc token)" https://api.box.com/2.0/users/me`,
    );

  const action: ActionFactory =
    (handler) =>
    async (...args: unknown[]) => {
      // commander passes (...positionals, options, command)
      const cmd = args[args.length - 1] as Command;
      const opts = args[args.length - 2] as Record<string, unknown>;
      const positionals = args
        .slice(0, -2)
        .flatMap((a): unknown[] => (Array.isArray(a) ? a : a === undefined ? [] : [a])) as string[];
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      const out = await openOutput({
        stdout: deps.stdout,
        stderr: deps.stderr,
        env: deps.env,
        json: globals.json === true,
        color: globals.color,
        debug: globals.debug === true,
      });
      let config: Config | undefined;
      const ctx: CommandContext = {
        deps,
        out,
        globals,
        command: commandPath(cmd),
        config() {
          config ??= loadConfig({ env: deps.env, store: globals.store, homeDir: deps.homeDir });
          return config;
        },
      };
      try {
        if (globals.envFile !== undefined) applyEnvFile(deps.env, readEnvFile(globals.envFile));
        // An empty --store / BOX_QC_STORE is refused before any command does anything (issue 15 item 11).
        resolveStore(globals.store, deps.env, deps.homeDir);
        const code = (await handler(ctx, opts as never, positionals)) ?? ExitCode.OK;
        // Data the user asked for that never reached stdout is a failure, quietly (io/output.ts).
        setExitCode(code === ExitCode.OK && out.dataLost ? ExitCode.FAILED : code);
      } catch (err) {
        // An abort caused by a signal surfaces as a plain AbortError: report it as the interruption it is.
        const signalExit = deps.interrupts.exitCode();
        const shown =
          signalExit !== undefined && !(err instanceof BoxQcError)
            ? new InterruptedError('interrupted', signalExit)
            : err;
        setExitCode(renderError(withReconnectHint(shown, ctx), out).exitCode);
      }
    };

  registerCommands(program, action);
  return program;
}

/** Runs one invocation and returns its exit code. Never throws, never calls process.exit. */
export async function run(argv: string[], deps: Deps): Promise<number> {
  let exitCode: number = ExitCode.OK;
  const program = createProgram(deps, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        return ExitCode.OK;
      }
      // Unknown command or flag, missing argument, bad value: commander printed the one-line error.
      const usage = usageLineFor(program, argv);
      safeWrite(deps.stderr, `usage: ${usage}\n`);
      if (argv.includes('--json')) {
        safeWrite(
          deps.stdout,
          dataText(
            `${JSON.stringify(errorToJson(new ConfigError(redactUsageMessage(err.message).replace(/^error: /, ''), { code: 'E_USAGE' })), null, 2)}\n`,
          ),
        );
      }
      return ExitCode.USAGE;
    }
    const out = await openOutput({
      stdout: deps.stdout,
      stderr: deps.stderr,
      env: deps.env,
      json: argv.includes('--json'),
    });
    return renderError(err, out).exitCode;
  }
}

/** Output is best-effort (io/output.ts): a stream that throws costs the line, never the run. */
function safeWrite(stream: Deps['stdout'], text: string): void {
  try {
    stream.write(text);
  } catch {
    // dropped
  }
}

/** `store init` for a nested subcommand: its names up to (not including) the program's. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

function usageLineFor(program: Command, argv: string[]): string {
  const sub = program.commands.find((c) => argv.includes(c.name()));
  if (sub) return `box-qc ${sub.name()} ${sub.usage()}  (see: box-qc ${sub.name()} --help)`;
  return `box-qc ${program.usage()}  (see: box-qc --help)`;
}
