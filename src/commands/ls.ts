import type { Command } from 'commander';
import type { ActionFactory } from '../cli.js';
import { NotImplementedError } from '../errors.js';

export function registerLs(program: Command, action: ActionFactory): void {
  program
    .command('ls')
    .description('ls (filled in by a later issue)')
    .action(action(async () => {
      throw new NotImplementedError('ls');
    }));
}
