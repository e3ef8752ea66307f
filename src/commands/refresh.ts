import type { Command } from 'commander';
import type { ActionFactory } from '../cli.js';
import { NotImplementedError } from '../errors.js';

export function registerRefresh(program: Command, action: ActionFactory): void {
  program
    .command('refresh')
    .description('refresh (filled in by a later issue)')
    .action(action(async () => {
      throw new NotImplementedError('refresh');
    }));
}
