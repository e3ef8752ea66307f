/**
 * What a store folder must not hold afterwards. Two different questions, so two names (issue 16: both were
 * called litter()):
 * - leftoverWorkFiles: the store's own working files, found by suffix (locks, temps, disk-space probes,
 *   write reservations). After a clean run there are none, whatever else the folder holds; the fault suite
 *   asks this after every kill, signal and I/O fault (ARCHITECTURE.md, "Token store locks").
 * - unexpectedFiles: every file but the ones named. Stricter: for a folder the test owns, where anything at
 *   all beyond tokens.json is a leak.
 */
import { readdirSync } from 'node:fs';
import { readdir } from 'node:fs/promises';

/** Lock, temp, probe and reservation files left in `dir` (none when `dir` does not exist). */
export async function leftoverWorkFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => /\.(lock|tmp|probe|reserve)$/.test(n));
  } catch {
    return [];
  }
}

/** Every file in `dir` except the `expected` ones. */
export function unexpectedFiles(dir: string, expected: string[] = ['tokens.json']): string[] {
  return readdirSync(dir).filter((n) => !expected.includes(n));
}
