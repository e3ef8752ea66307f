/**
 * The control API under /__emulator/ so a standalone emulator (or a child process running one) can be driven
 * over HTTP exactly like the in-process object. JSON in, JSON out. Not counted in stats, never faulted.
 *
 *   GET  /__emulator/health                -> {ok, url}
 *   POST /__emulator/mint {login}          -> {access_token, refresh_token, expires_in, user}
 *   GET  /__emulator/stats                 -> counters;  POST /__emulator/stats/reset
 *   GET  /__emulator/requests              -> request log (method, path, grant type, status, time)
 *   GET  /__emulator/clock                 -> {now};     POST /__emulator/clock/advance {ms} -> {now}
 *   GET|POST|DELETE /__emulator/faults     -> list | add a rule ({"regex": true} for a RegExp route) | clear
 *   GET  /__emulator/chains[?login=]       -> refresh chains;  GET /__emulator/chain-check?login= -> verdict
 *   POST /__emulator/live {token}          -> {live}
 *   POST /__emulator/options {...}         -> applies runtime switches (setOptions)
 *   GET  /__emulator/pending; POST /__emulator/approve {id?, login?} | /__emulator/deny {id?} -> {location}
 *   GET  /__emulator/memory                -> process.memoryUsage() plus VmHWM/VmRSS in bytes (Linux)
 */
import { readFileSync } from 'node:fs';
import { json, type Reply } from './reply.js';
import type { RequestContext } from './state.js';
import { ruleFromJson } from './faults.js';
import type { Emulator } from './types.js';

export const CONTROL_PREFIX = '/__emulator/';

function parseJson(body: string): Record<string, unknown> {
  if (body.trim() === '') return {};
  const v: unknown = JSON.parse(body);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TypeError('expected a JSON object');
  return v as Record<string, unknown>;
}

function procStatusBytes(field: string): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export async function handleControl(emu: Emulator, ctx: RequestContext): Promise<Reply> {
  try {
    return route(emu, ctx, parseJson(ctx.body));
  } catch (err) {
    return json(400, { error: 'bad_control_request', message: (err as Error).message });
  }
}

function route(emu: Emulator, ctx: RequestContext, body: Record<string, unknown>): Reply {
  const op = `${ctx.method} ${ctx.url.pathname.slice(CONTROL_PREFIX.length)}`;
  const q = ctx.url.searchParams;
  switch (op) {
    case 'GET health':
      return json(200, { ok: true, url: emu.url });
    case 'POST mint':
      return json(200, emu.mint({ login: str(body.login) ?? '', clientId: str(body.clientId) }));
    case 'GET stats':
      return json(200, emu.stats());
    case 'POST stats/reset':
      emu.resetStats();
      return json(200, emu.stats());
    case 'GET requests':
      return json(200, emu.requests);
    case 'GET clock':
      return json(200, { now: emu.clock.now(), offset: emu.clock.offset() });
    case 'POST clock/advance':
      return json(200, { now: emu.clock.advance(Number(body.ms)) });
    case 'GET faults':
      return json(
        200,
        emu.faults.list().map((r) => ({ ...r, route: String(r.route) })),
      );
    case 'POST faults':
      emu.faults.add(ruleFromJson(body));
      return json(200, { ok: true });
    case 'DELETE faults':
      emu.faults.clear();
      return json(200, { ok: true });
    case 'GET chains':
      return json(200, emu.chains(q.get('login') ?? undefined));
    case 'GET chain-check':
      return json(200, emu.chainCheck(q.get('login') ?? ''));
    case 'POST live':
      return json(200, { live: emu.isLive(str(body.token) ?? '') });
    case 'POST options':
      emu.setOptions(body);
      return json(200, { ok: true });
    case 'GET pending':
      return json(200, emu.pending());
    case 'POST approve':
      return json(200, { location: emu.approve(str(body.id), str(body.login)) });
    case 'POST deny':
      return json(200, { location: emu.deny(str(body.id)) });
    case 'GET memory':
      return json(200, { ...process.memoryUsage(), vmHWM: procStatusBytes('VmHWM'), vmRSS: procStatusBytes('VmRSS') });
    default:
      return json(404, { error: 'unknown_control_route', message: `no control route ${op}` });
  }
}
