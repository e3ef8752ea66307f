import type { Command } from 'commander';
import type { ActionFactory } from '../cli.js';
import { NotImplementedError } from '../errors.js';

export function registerConnect(program: Command, action: ActionFactory): void {
  program
    .command('connect')
    .description("connect a QC user's Box account (OAuth 2.0 in the browser, loopback callback)")
    .option('--email <email>', 'the QC user to connect (default: $BOX_QC_EMAIL)')
    .addHelpText('after', `
Examples:
  $ box-qc connect --email alice@example.com`)
    .action(action(async () => {
      throw new NotImplementedError('connect');
    }));
}
