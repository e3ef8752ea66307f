import type { Command } from 'commander';
import type { ActionFactory } from '../cli.js';
import { NotImplementedError } from '../errors.js';

export function registerEmulator(program: Command, action: ActionFactory): void {
  program
    .command('emulator')
    .description('run a local Box emulator on 127.0.0.1 (for demos, tests and your own CI)')
    .action(action(async () => {
      throw new NotImplementedError('emulator');
    }));
}
