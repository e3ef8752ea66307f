/**
 * Commander's usage errors quote what was typed: `unknown option '--client-secret=VALUE'`, `option
 * '--min-valid <duration>' argument 'VALUE' is invalid`, `unknown command 'VALUE'`. A mistyped flag can
 * carry a secret (issue 15 item 10), so what reaches stderr or --json names options and commands only and
 * never repeats a value: unknown options are cut to their name (`--name`, `-x`), an invalid value is
 * described, not quoted, and an unknown command is quoted only when it looks like a command name.
 */

/** What a long option name, a short option or a command name can look like; anything else is not shown. */
const LONG_NAME = /^--[A-Za-z0-9][A-Za-z0-9-]{0,63}/;
const SHORT_NAME = /^-[A-Za-z0-9]/;
const COMMAND_NAME = /^[a-z][a-z-]{0,23}$/;

function optionName(typed: string): string | undefined {
  const m = typed.startsWith('--') ? LONG_NAME.exec(typed) : SHORT_NAME.exec(typed);
  return m?.[0];
}

/** Rewrites one of commander's error lines so that no typed value survives. Other text passes unchanged. */
export function redactUsageMessage(message: string): string {
  const unknownOption = /^(error: )?unknown option '([\s\S]*?)'(\s*\(Did you mean [^)]*\?\))?\s*$/.exec(message);
  if (unknownOption) {
    const name = optionName(unknownOption[2]!);
    return `${unknownOption[1] ?? ''}unknown option ${name ? `'${name}'` : '(not shown)'}${unknownOption[3] ?? ''}`;
  }
  const unknownCommand = /^(error: )?unknown command '([\s\S]*?)'(\s*\(Did you mean [^)]*\?\))?\s*$/.exec(message);
  if (unknownCommand) {
    const name = unknownCommand[2]!;
    return `${unknownCommand[1] ?? ''}unknown command ${COMMAND_NAME.test(name) ? `'${name}'` : '(not shown)'}${unknownCommand[3] ?? ''}`;
  }
  // `option '<flags>' argument '<value>' is invalid. <reason>`: the flags are ours, the value is not.
  const invalidOption = /^(error: )?option '([^']*)' argument '[\s\S]*' is invalid\.([\s\S]*)$/.exec(message);
  if (invalidOption)
    return `${invalidOption[1] ?? ''}option '${invalidOption[2]}' has an invalid value.${invalidOption[3]!.trimEnd()}`;
  const invalidArgument =
    /^(error: )?command-argument value '[\s\S]*' is invalid for argument '([^']*)'\.([\s\S]*)$/.exec(message);
  if (invalidArgument)
    return `${invalidArgument[1] ?? ''}invalid value for argument '${invalidArgument[2]}'.${invalidArgument[3]!.trimEnd()}`;
  return message.trimEnd();
}
