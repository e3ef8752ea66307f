/**
 * What every command handler is given (CommandContext) and how cli.ts wraps a handler into a commander action
 * (ActionFactory). Its own module so that commands depend on it and cli.ts depends on commands, never back.
 */
import type { Config } from '../config.js';
import type { Deps } from '../deps.js';
import type { Output } from '../io/output.js';

export interface GlobalOptions {
  store?: string;
  json?: boolean;
  color?: boolean;
  debug?: boolean;
  envFile?: string;
}

export interface CommandContext {
  deps: Deps;
  out: Output;
  globals: GlobalOptions;
  /** The subcommand's path (`refresh`, `store init`): the audit log's `command` (issue 18). */
  command?: string;
  /** Loaded on first use, after --env-file. Throws ConfigError (exit 2). */
  config(): Config;
}

/** A command handler returns nothing (exit 0) or the exit code of a partial outcome (refresh: 4 or 75). */
export type Handler<O> = (ctx: CommandContext, opts: O, args: string[]) => Promise<number | void>;
export type ActionFactory = <O>(handler: Handler<O>) => (...args: unknown[]) => Promise<void>;
