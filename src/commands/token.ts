import type { Command } from 'commander';
import type { ActionFactory } from '../cli.js';
import { NotImplementedError } from '../errors.js';

export function registerToken(program: Command, action: ActionFactory): void {
  program
    .command('token')
    .description('token (filled in by a later issue)')
    .action(action(async () => {
      throw new NotImplementedError('token');
    }));
}
