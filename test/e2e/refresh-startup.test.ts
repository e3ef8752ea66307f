/**
 * Issue 20, one user's refresh: what the built binary loads besides the work itself. The Box POST's node:http
 * comes without Node's ES module loader (bin/box-qc.js), the lock owner's /proc facts without node:fs/promises
 * (and the readline modules it loads). Each was milliseconds of every refresh of a fresh process.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { moduleListPreload } from '../helpers/module-list.js';
import { describeResult } from '../helpers/run-cli.js';
import { refreshCount, startLab, type Lab } from './refresh-fixtures.js';

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

it('refresh --email E --force loads neither the ES module loader, fs/promises nor readline', async () => {
  const l = (lab = await startLab());
  await l.mintAndSeed(['alice@example.com']);
  const dir = await mkdtemp(join(tmpdir(), 'boxqc-startup-'));
  const { preload, loaded: modules } = moduleListPreload(dir);
  const posts = refreshCount(l);
  const r = await l.cli(['refresh', '--email', 'alice@example.com', '--force'], {
    NODE_OPTIONS: `--require ${preload}`,
  });
  expect(r.code, describeResult(r)).toBe(0);
  expect(refreshCount(l)).toBe(posts + 1);
  const loaded = modules();
  // The POST itself loads node:http (and net, stream): what a refresh needs.
  expect(loaded).toContain('NativeModule http');
  for (const unneeded of ['internal/modules/esm/loader', 'internal/fs/promises', 'internal/readline/interface']) {
    expect(loaded, `NativeModule ${unneeded} was loaded`).not.toContain(`NativeModule ${unneeded}`);
  }
});
