/**
 * `serve` wired to connection health (issues 17 and 18): a user marked dead who reconnects through a link is
 * announced once as connection.recovered by serve's --notify-command, and GET /metrics on the listen address
 * answers the same Prometheus exposition as `refresh --metrics-file` (the user's state, token ages).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { describeResult, runCli } from '../helpers/run-cli.js';
import { EMAIL, cliEnv, consent, readStore, tempStore, userRecord, writeStore } from './connect-helpers.js';
import { freePort, getVia, invite, startServe, type ServeChild } from './serve-helpers.js';

let emu: Emulator;
let serve: ServeChild | undefined;
let env: Record<string, string>;
let port: number;
let publicUrl: string;
let storePath: string;

beforeEach(async () => {
  port = await freePort();
  publicUrl = `http://127.0.0.1:${port}/box-qc`;
  emu = await startEmulator({ redirectUris: ['http://127.0.0.1/box-qc/callback'] });
  storePath = (await tempStore()).storePath;
  env = cliEnv(emu, storePath, { BOX_QC_PUBLIC_URL: publicUrl });
});
afterEach(async () => {
  if (serve && serve.child.exitCode === null) serve.child.kill('SIGKILL');
  serve = undefined;
  await emu.close();
});

async function events(file: string): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('serve and connection health', () => {
  it('a dead user reconnected through a link: one connection.recovered from serve; /metrics shows the state', async () => {
    // Box no longer knows alice's refresh token (used elsewhere): a refresh marks her dead (exit 4).
    const pair = emu.mint({ login: EMAIL });
    await writeStore(storePath, {
      [EMAIL]: userRecord({ access_token: pair.access_token, refresh_token: 'not-a-live-refresh-token' }),
    });
    const out = join(await mkdtemp(join(tmpdir(), 'boxqc-notify-')), 'events.jsonl');
    const notify = `cat >> '${out}'; echo >> '${out}'`;
    const dead = await runCli(['refresh', '--all', '--force'], { env: { ...env, BOX_QC_NOTIFY_COMMAND: notify } });
    expect(dead.code, describeResult(dead)).toBe(4);
    expect((await events(out)).map((e) => e.event)).toEqual(['connection.dead']);

    serve = await startServe(['--listen', `127.0.0.1:${port}`, '--notify-command', notify], env);
    const metricsDead = await getVia(`http://127.0.0.1:${port}/metrics`);
    expect(metricsDead.status).toBe(200);
    expect(metricsDead.body).toContain('box_qc_connections{state="dead"} 1');

    const link = await invite(env, EMAIL);
    const r = await fetch(link, { redirect: 'manual' });
    expect(r.status).toBe(302);
    const done = await getVia(await consent(r.headers.get('location')!));
    expect(done.status, done.body).toBe(200);
    expect(emu.isLive((await readStore(storePath)).users[EMAIL]!.refresh_token)).toBe(true);

    // Delivered after the response, once.
    for (let i = 0; i < 100 && (await events(out)).length < 2; i += 1) await new Promise((res) => setTimeout(res, 100));
    expect((await events(out)).map((e) => [e.event, e.email])).toEqual([
      ['connection.dead', EMAIL],
      ['connection.recovered', EMAIL],
    ]);
    const metrics = await getVia(`http://127.0.0.1:${port}/metrics`);
    expect(metrics.body).toContain('box_qc_connections{state="healthy"} 1');
    expect(metrics.body).toContain(`box_qc_refresh_token_age_seconds{email="${EMAIL}"}`);
    // Not on the public host (what a reverse proxy forwards).
    const viaPublic = await getVia(`http://127.0.0.1:${port}/box-qc/metrics`, { host: `127.0.0.1` });
    expect(viaPublic.status).not.toBe(200);
  });
});
