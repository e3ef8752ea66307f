/**
 * Where connect keeps its state-signing key: beside the token store (same 0700 folder). A PostgreSQL store
 * has no folder, so the key then lives in the default store folder.
 */
import { dirname } from 'node:path';
import { defaultStorePath, type Config } from '../../config.js';
import { isPostgresUrl } from '../store/location.js';

export function stateKeyDirFor(
  config: Config,
  deps: { env: Record<string, string | undefined>; homeDir: string },
): string {
  const path = isPostgresUrl(config.storePath) ? defaultStorePath(deps.env, deps.homeDir) : config.storePath;
  return dirname(path);
}
