/**
 * `box-qc status`: who is connected and how healthy each connection is. Loads nothing heavy on the plain
 * path (no undici, jose or ora): `status --json` on an empty store is benchmarked against `node -e 0`.
 * `--check` lazily loads the session and Box client to call /2.0/users/me for each user.
 */
import type { Command } from 'commander';
import type { ActionFactory, CommandContext } from './context.js';
import { normalizeEmail } from '../config.js';
import { terminalSafe } from '../io/terminal-safe.js';
import { reconnectCommand, shellWord } from '../core/reconnect-command.js';
import {
  buildStatusReport,
  checkExitCode,
  relativeTime,
  runChecks,
  type CheckResult,
  type StatusReport,
  type UserStatus,
} from '../core/status.js';
import { BoxApiError, BoxQcError, ConfigError, ReconnectRequiredError, TemporaryError, UsageError } from '../errors.js';
import { openStoreForCommand } from './shared/open-store.js';
import { notConnected } from './shared/resolve-email.js';
import { historyLine } from './shared/history-lines.js';
import type { StoreDocument, TokenStore } from '../core/store/types.js';
import { readUser } from '../core/store/scoped.js';
import { streamStatusJson } from './status-stream.js';
import { renderTable, renderTsv, STATUS_STATES, statusRows } from './status-table.js';
import type { HealthState } from '../core/health/types.js';

interface StatusOptions {
  email?: string;
  check?: boolean;
  long?: boolean;
  state?: string;
}

export function registerStatus(program: Command, action: ActionFactory): void {
  program
    .command('status')
    .description('show connected users, token expiry and configuration (never a token)')
    .option('--email <email>', 'only this user (exit 4 if not connected)')
    .option(
      '--check',
      'also call Box (/2.0/users/me) for each user, refreshing if needed: exit 4 if any connection is dead, 75 if Box is unreachable',
    )
    .option('--long', "every user's full record and the configuration, as `--email` shows one user")
    .option('--state <state>', `only users in this state: ${STATUS_STATES.join(', ')}`)
    .addHelpText(
      'after',
      `
On a terminal: one line per user (problems first: dead, expiring, degraded) and a summary line. On a pipe:
one tab-separated line per user, stable columns, no header:
  email  box_login  state  access_token_expires_at  refresh_token_age_days  refresh_token_days_left  tokens  action
--email (one user), --long and --check show the full record per user (with --email its last events) and the
configuration.

Examples:
  $ box-qc status
  $ box-qc status --state dead
  $ box-qc status | awk -F'\\t' '$3 != "healthy" { print $1, $8 }'
  $ box-qc status --email alice@example.com --check
  $ box-qc status --json | jq '.users[].access_token.expires_at'`,
    )
    .action(action<StatusOptions>(runStatus));
}

async function runStatus(ctx: CommandContext, opts: StatusOptions): Promise<number> {
  const config = ctx.config();
  const store = openStoreForCommand(ctx);
  try {
    const email = opts.email === undefined ? undefined : normalizeEmail(opts.email);
    const state = opts.state === undefined ? undefined : parseState(opts.state);
    // One user: that user's row only; every user without --check: streamed (issue 20, status-stream.ts).
    const stream = email === undefined && !opts.check && ctx.out.isJson && state === undefined;
    const [doc, info] = await Promise.all([
      // Shown only, unless --check goes on to Box with it (ReadUserOptions.displayOnly).
      email !== undefined ? readUser(store, email, { displayOnly: !opts.check }) : stream ? EMPTY : store.read(),
      store.inspect(),
    ]);
    if (email !== undefined && !Object.hasOwn(doc.users, email)) throw notConnected(email);
    const facts = {
      clientIdPresent: config.clientId !== undefined,
      clientSecretPresent: config.clientSecret !== undefined,
      redirectUri: config.redirectUri.href,
      apiBaseUrl: config.apiBaseUrl.href,
      storeSource: config.storeSource,
      publicUrlConfigured: config.publicUrl !== undefined,
    };
    const now = ctx.deps.now();
    const report = buildStatusReport(doc, info, facts, now, email === undefined ? undefined : [email]);
    if (stream) {
      // Pages of a PostgreSQL store pass through a small working set: keep V8 from growing the heap with them.
      if (info.kind === 'postgres') await (await import('../v8-flags.js')).keepHeapSmallWhileStreaming();
      await streamStatusJson(ctx.out, store, report, now, facts.publicUrlConfigured);
      return 0;
    }
    if (state !== undefined) report.users = report.users.filter((u) => u.health.state === state);
    if (email !== undefined) await addRecentEvents(ctx, store, report.users);
    let exitCode = 0;
    if (opts.check && report.users.length > 0) {
      await checkUsers(ctx, report.users);
      exitCode = checkExitCode(report.users);
    }
    const viaInvite = config.publicUrl !== undefined;
    if (ctx.out.isJson) ctx.out.json(report);
    else if (
      opts.long === true ||
      opts.check === true ||
      email !== undefined ||
      (report.users.length === 0 && state === undefined)
    )
      await ctx.out.data(renderReport(report, ctx.deps.now(), viaInvite));
    else await ctx.out.data(renderMany(ctx, report.users, ctx.deps.now(), viaInvite, state));
    return exitCode;
  } finally {
    await store.close();
  }
}

/** `status --email`: the last three audit-log events (issue 18); an unreadable log costs the lines, not the status. */
async function addRecentEvents(ctx: CommandContext, store: TokenStore, users: UserStatus[]): Promise<void> {
  for (const u of users) {
    try {
      const events = await store.history?.read({ email: u.email, limit: 3 });
      if (events) u.history = events;
    } catch (err) {
      ctx.out.warn(err instanceof Error ? err.message : String(err));
    }
  }
}

function renderRecentEvents(u: UserStatus): string[] {
  if (u.history === undefined) return [];
  if (u.history.length === 0) return ['  last events    none recorded'];
  return ['  last events', ...u.history.map((e) => `    ${historyLine(e)}`)];
}

const EMPTY: StoreDocument = { version: 1, users: {} };

function parseState(raw: string): HealthState {
  const state = raw.trim().toLowerCase();
  if ((STATUS_STATES as readonly string[]).includes(state)) return state as HealthState;
  throw new UsageError(`--state must be one of ${STATUS_STATES.join(', ')}`, { code: 'E_BAD_STATE' });
}

/** Many users (issue 21): the table on a terminal, tab-separated lines on a pipe (status-table.ts). */
function renderMany(
  ctx: CommandContext,
  users: UserStatus[],
  now: number,
  viaInvite: boolean,
  state: HealthState | undefined,
): string {
  const rows = statusRows(users, viaInvite);
  if (!ctx.out.stdoutIsTTY) return renderTsv(rows);
  if (rows.length === 0) return `no users in state ${state ?? '?'}\n`;
  return renderTable(rows, now);
}

const CHECK_RETRY = { maxAttempts: 2, baseDelayMs: 500, maxDelayMs: 2_000 };

/** --check: getValidAccessToken (refreshing if needed), then /2.0/users/me. Heavy modules load only here. */
async function checkUsers(ctx: CommandContext, users: UserStatus[]): Promise<void> {
  const [{ sessionForCommand }, { getValidAccessToken }, { getCurrentUser }] = await Promise.all([
    import('./shared/http.js'),
    import('../core/session.js'),
    import('../core/box/client.js'),
  ]);
  const cs = await sessionForCommand(ctx);
  try {
    await runChecks(users, async (email): Promise<CheckResult> => {
      try {
        const { accessToken } = await getValidAccessToken(cs.session, email);
        // A health check answers promptly: one retry, not the five a listing gets (75 means "try later" anyway).
        const me = await getCurrentUser(
          { http: cs.session.http, apiBaseUrl: cs.session.apiBaseUrl, retry: CHECK_RETRY },
          accessToken,
        );
        return { ok: true, box_login: me.login };
      } catch (err) {
        return classifyCheckError(err);
      }
    });
  } finally {
    await cs.close();
  }
}

function classifyCheckError(err: unknown): CheckResult {
  // Missing client credentials is a configuration problem for every user alike: exit 2, not a per-user result.
  if (err instanceof ConfigError) throw err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ReconnectRequiredError) return { ok: false, kind: 'dead', code: err.code, message };
  // 401 with an access token we just validated or refreshed: Box no longer honours this grant.
  if (err instanceof BoxApiError && err.status === 401) return { ok: false, kind: 'dead', code: err.code, message };
  if (err instanceof TemporaryError) return { ok: false, kind: 'unreachable', code: err.code, message };
  if (err instanceof BoxQcError) return { ok: false, kind: 'error', code: err.code, message };
  return { ok: false, kind: 'unreachable', code: 'E_NETWORK', message };
}

function when(iso: string | null, now: number): string {
  return iso === null ? 'unknown' : `${relativeTime(Date.parse(iso) - now)} (${iso})`;
}

/**
 * A stored value for a terminal line: the store's validator checks shapes, not every field's type, and a record
 * written by another tool may hold a number or an object where a string belongs (review of issue 21, #1).
 */
function show(v: unknown): string {
  if (typeof v === 'string') return terminalSafe(v);
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return '?';
}

function ago(v: unknown, now: number): string {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isFinite(t) ? ` (${relativeTime(t - now)})` : '';
}

function renderUser(u: UserStatus, now: number, publicUrlConfigured: boolean): string[] {
  const safe = show;
  const who = terminalSafe(u.email);
  const lines = [`${who}  Box: ${safe(u.box_user.login)} (${safe(u.box_user.name)}, id ${safe(u.box_user.id)})`];
  const h = u.health;
  const failing =
    h.failures > 0
      ? `: ${h.failures} temporary failure${h.failures === 1 ? '' : 's'} in a row (${safe(h.reason)})`
      : '';
  lines.push(
    `  state          ${h.state} since ${h.since === null ? 'unknown' : `${safe(h.since)}${ago(h.since, now)}`}${failing}`,
  );
  const at = u.access_token;
  lines.push(
    `  access token   ${at.expired ? 'expired' : 'expires'} ${when(at.expires_at, now)}${at.expired ? ' (refreshed on next use)' : ''}`,
  );
  const rt = u.refresh_token;
  const est = rt.rotated_at_estimated ? ' (from updated_at)' : '';
  lines.push(
    `  refresh token  rotated ${when(rt.rotated_at, now)}${est}; ${rt.expired ? 'died' : 'dies'} ${when(rt.dies_at, now)}`,
  );
  if (u.encryption) lines.push(`  tokens         encrypted (key ${safe(u.encryption.key_id)})`);
  if (rt.expired) lines.push('  WARNING: the refresh token is older than 60 days: Box no longer accepts it; reconnect');
  else if (rt.warning)
    lines.push(
      `  WARNING: refresh token unused for ${rt.age_days} days; Box kills it at 60: run box-qc refresh --email ${shellWord(who)}`,
    );
  if (u.needs_reconnect) {
    lines.push(
      `  NEEDS RECONNECT: ${safe(u.needs_reconnect.reason)}: ${safe(u.needs_reconnect.message)} (since ${safe(u.needs_reconnect.at)})`,
    );
    lines.push(`    run: ${reconnectCommand(who, publicUrlConfigured)}`);
  }
  if (u.refresh_in_flight)
    lines.push(`  refresh in flight since ${safe(u.refresh_in_flight.since)} (pid ${safe(u.refresh_in_flight.pid)})`);
  if (u.check) {
    lines.push(
      u.check.ok
        ? `  check          ok: Box answered as ${terminalSafe(u.check.box_login)}`
        : `  check          ${u.check.kind === 'dead' ? 'DEAD' : u.check.kind === 'unreachable' ? 'Box unreachable' : 'failed'}: ${terminalSafe(u.check.message)} (${u.check.code})`,
    );
  }
  return lines;
}

/** File store: its modes; PostgreSQL: where it lives (the file modes mean nothing there). */
function storeFacts(s: StatusReport['config']['store']): string {
  if (s.server) {
    const v = s.server;
    const where = `PostgreSQL host ${terminalSafe(v.host)}, port ${v.port}, database ${terminalSafe(v.database)}${v.user === null ? '' : `, user ${terminalSafe(v.user)}`}`;
    return s.exists ? where : `${where}; tables not created yet`;
  }
  return s.exists ? `file ${s.mode ?? '?'}, folder ${s.dir_mode ?? '?'}` : 'not created yet';
}

/** `publicUrlConfigured`: BOX_QC_PUBLIC_URL is set, so a dead connection is fixed with an invite (issue 17). */
export function renderReport(report: StatusReport, now: number, publicUrlConfigured = false): string {
  const lines: string[] = [];
  if (report.users.length === 0) lines.push('no users connected');
  for (const u of report.users) lines.push(...renderUser(u, now, publicUrlConfigured), ...renderRecentEvents(u), '');
  const c = report.config;
  const s = c.store;
  const perms = storeFacts(s);
  lines.push(
    ...(report.users.length === 0 ? [''] : []),
    'configuration',
    `  store          ${terminalSafe(s.location)} (${perms}; from ${s.source})`,
    `  client id      ${c.client_id_present ? 'set' : 'NOT SET (BOX_CLIENT_ID)'}`,
    `  client secret  ${c.client_secret_present ? 'set' : 'NOT SET (BOX_CLIENT_SECRET)'}`,
    `  redirect URI   ${c.redirect_uri}`,
    `  API base URL   ${c.api_base_url}`,
  );
  return `${lines.join('\n')}\n`;
}
