import type { Command } from 'commander';
import type { ActionFactory } from '../cli.js';
import { NotImplementedError } from '../errors.js';

export function registerStatus(program: Command, action: ActionFactory): void {
  program
    .command('status')
    .description('status (filled in by a later issue)')
    .action(action(async () => {
      throw new NotImplementedError('status');
    }));
}
