import type { Command } from 'commander';
import type { ActionFactory } from './context.js';
import { registerConnect } from './connect.js';
import { registerStatus } from './status.js';
import { registerDisconnect } from './disconnect.js';
import { registerLs } from './ls.js';
import { registerRefresh } from './refresh.js';
import { registerToken } from './token.js';
import { registerEmulator } from './emulator.js';
import { registerStore } from './store.js';
import { registerDoctor } from './doctor.js';
import { registerInvite } from './invite.js';
import { registerServe } from './serve.js';
import { registerHistory } from './history.js';

export function registerCommands(program: Command, action: ActionFactory): void {
  registerConnect(program, action);
  registerStatus(program, action);
  registerDisconnect(program, action);
  registerLs(program, action);
  registerRefresh(program, action);
  registerToken(program, action);
  registerEmulator(program, action);
  registerStore(program, action);
  registerDoctor(program, action);
  registerInvite(program, action);
  registerServe(program, action);
  registerHistory(program, action);
}
