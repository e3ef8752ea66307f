/**
 * `box-qc doctor`: is this host set up to connect and keep users connected? One line per check (ok, warn or
 * fail, and the fix), exit 0 when nothing failed and 1 otherwise (warnings alone exit 0), `--json` for scripts.
 * It touches no user and changes nothing in the store (a missing store folder is created 0700, as connect would;
 * a token file readable by others is tightened to 0600 by the read, as every command does): see core/doctor/.
 */
import type { Command } from 'commander';
import type { ActionFactory, CommandContext } from './context.js';
import { terminalSafe } from '../io/terminal-safe.js';
import { BoxQcError } from '../errors.js';
import type { DoctorCheck } from '../core/doctor/types.js';
import { readDoctorInputs, type DoctorInputs } from './doctor-inputs.js';
import { openStoreAt } from './shared/open-store.js';

export function registerDoctor(program: Command, action: ActionFactory): void {
  program
    .command('doctor')
    .description('check the Box app settings, the store, the network and the clock (exit 1 if a check fails)')
    .addHelpText(
      'after',
      `
Checks, in order:
  credentials   BOX_CLIENT_ID and BOX_CLIENT_SECRET set and accepted by Box (no user is touched)
  redirect_uri  BOX_REDIRECT_URI well-formed and its port free for connect's callback listener
  store_files   the store's location, and its folder and file modes (0700 and 0600)
  store_access  the store can be read and written now (file or PostgreSQL)
  api           Box's API (or the emulator) reachable, and the proxy used
  clock         the local clock within 60 s of Box's Date header (token expiry depends on it)
  public_url    BOX_QC_PUBLIC_URL answers at /healthz (only when set: connect links)

Each line says ok, warn or fail; a warn or fail line is followed by the fix. Nothing secret is printed.

Examples:
  $ box-qc doctor
  $ box-qc doctor --json | jq '.checks[] | select(.status != "ok")'`,
    )
    .action(action(runDoctor));
}

async function runDoctor(ctx: CommandContext): Promise<number> {
  const inputs = readDoctorInputs(ctx.deps.env, ctx.globals.store, ctx.deps.homeDir);
  const checks = await runChecks(ctx, inputs);
  const failed = checks.some((c) => c.status === 'fail');
  if (ctx.out.isJson) ctx.out.json({ ok: !failed, checks });
  else await ctx.out.data(renderChecks(checks));
  return failed ? 1 : 0;
}

async function runChecks(ctx: CommandContext, inputs: DoctorInputs): Promise<DoctorCheck[]> {
  const [{ checkCredentials }, { checkRedirectUri }, store, { checkApi, checkClock }, { checkPublicUrl }] =
    await Promise.all([
      import('../core/doctor/credentials-check.js'),
      import('../core/doctor/redirect-check.js'),
      import('../core/doctor/store-check.js'),
      import('../core/doctor/api-check.js'),
      import('../core/doctor/public-url-check.js'),
    ]);
  const { httpForCommand } = await import('./shared/http.js');
  const http = await httpForCommand(ctx, { timeoutMs: 15_000 });
  try {
    const checks: DoctorCheck[] = [];
    if ('url' in inputs.api) {
      const apiBaseUrl = inputs.api.url;
      checks.push(
        await checkCredentials({ http, apiBaseUrl, credentials: inputs.credentials, missing: inputs.missing }),
      );
      checks.push(await checkRedirectUri(inputs.redirect));
      checks.push(...(await storeChecks(ctx, inputs, store)));
      const api = await checkApi(http, apiBaseUrl, inputs.proxy, ctx.deps.now);
      checks.push(api.check);
      checks.push(
        api.check.status === 'fail' ? skipped('clock', 'the API is not reachable') : checkClock(api.serverDate),
      );
    } else {
      const fix = 'set BOX_API_BASE_URL to https://api.box.com (or the emulator URL), or unset it';
      checks.push({ name: 'credentials', status: 'fail', message: 'not checked: BOX_API_BASE_URL is invalid', fix });
      checks.push(await checkRedirectUri(inputs.redirect));
      checks.push(...(await storeChecks(ctx, inputs, store)));
      checks.push({ name: 'api', status: 'fail', message: inputs.api.error, fix });
      checks.push(skipped('clock', 'BOX_API_BASE_URL is invalid'));
    }
    checks.push(await checkPublicUrl(http, inputs.publicUrl));
    return checks;
  } finally {
    const { closeHttpContext } = await import('../core/http/request.js');
    await closeHttpContext(http);
  }
}

type StoreModule = typeof import('../core/doctor/store-check.js');

async function storeChecks(ctx: CommandContext, inputs: DoctorInputs, m: StoreModule): Promise<DoctorCheck[]> {
  if ('error' in inputs.store) {
    const fix = inputs.store.hint ?? 'set BOX_QC_STORE to a token file path or a postgres:// URL';
    return [
      { name: 'store_files', status: 'fail', message: inputs.store.error, fix },
      skipped('store_access', 'the store location is invalid'),
    ];
  }
  const warnings: string[] = [];
  let store;
  try {
    store = openStoreAt(ctx, inputs.store.location, { onWarning: (line) => warnings.push(line) });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // The opener's own hint when it has one (a malformed BOX_QC_KEY is not fixed by BOX_QC_STORE: review #7).
    const fix =
      err instanceof BoxQcError && err.hint !== undefined
        ? err.hint
        : 'set BOX_QC_STORE to a token file path or a postgres:// URL, and check BOX_QC_KEY_FILE / BOX_QC_KEY';
    return [
      { name: 'store_files', status: 'fail', message, fix },
      skipped('store_access', 'the store cannot be opened'),
    ];
  }
  try {
    const { dirname } = await import('node:path');
    const files = await store.inspect().then(
      (info) => m.checkStoreFiles(info, dirname(info.location)),
      (err: unknown): DoctorCheck => ({
        name: 'store_files',
        status: 'fail',
        message: `cannot inspect the store: ${err instanceof Error ? err.message : String(err)}`,
        fix: 'check the store location and that its server or folder is reachable',
      }),
    );
    return [files, await m.checkStoreAccess(store, warnings)];
  } finally {
    await store.close();
  }
}

function skipped(name: string, why: string): DoctorCheck {
  return { name, status: 'warn', message: `not checked: ${why}`, fix: 'fix the failure above first' };
}

export function renderChecks(checks: readonly DoctorCheck[]): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  const lines: string[] = [];
  for (const c of checks) {
    lines.push(`${c.status.padEnd(4)}  ${c.name.padEnd(width)}  ${terminalSafe(c.message)}`);
    if (c.fix !== undefined && c.status !== 'ok') lines.push(`${' '.repeat(6 + width)}  fix: ${terminalSafe(c.fix)}`);
  }
  const failed = checks.filter((c) => c.status === 'fail').length;
  const warned = checks.filter((c) => c.status === 'warn').length;
  lines.push(
    failed + warned === 0 ? 'all checks passed' : `${failed} failed, ${warned} warning${warned === 1 ? '' : 's'}`,
  );
  return `${lines.join('\n')}\n`;
}
