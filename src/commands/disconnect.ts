import type { Command } from 'commander';
import type { ActionFactory } from '../cli.js';
import { NotImplementedError } from '../errors.js';

export function registerDisconnect(program: Command, action: ActionFactory): void {
  program
    .command('disconnect')
    .description('disconnect (filled in by a later issue)')
    .action(action(async () => {
      throw new NotImplementedError('disconnect');
    }));
}
