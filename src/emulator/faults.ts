/**
 * Fault injection per route (issue 4, reliability.md): rules are tried in the order added; the first rule
 * that matches and still has uses left applies. `times` makes sequences expressible: add
 * {status 429, times 2} then {status 503, times 1} for "429 twice, then 503 once, then normal".
 */
export type FaultAction =
  /** Answer with `status` (429/500/502/503...) without running the handler; 429/503 carry Retry-After. */
  | 'status'
  /** Destroy the connection before the handler runs: nothing was committed. */
  | 'drop'
  /** Run the handler (a refresh is committed), then destroy the connection: the lost-response case. */
  | 'drop-after-commit'
  /** Run the handler, then hold the answer for `ms` (default 10 min) — past any client timeout. */
  | 'stall-after-commit'
  /** Wait `ms` before handling. */
  | 'latency'
  /** Handle, then send the body `chunkBytes` at a time every `ms`. */
  | 'slow-drip'
  /**
   * Run the handler (a refresh is committed), then answer its 200 malformed: `patch` sets fields of the JSON
   * body (null removes one), or `rawBody` replaces the body (text/html). The malformed-200 case (issue 15).
   */
  | 'malform-after-commit';

export interface FaultRule {
  /** Path to match: exact ("/oauth2/token"), with `*` wildcards ("/2.0/folders/*\/items"), or a RegExp. */
  route: string | RegExp;
  method?: string;
  /** Only token requests with this grant_type. */
  grantType?: string;
  action: FaultAction;
  status?: number;
  retryAfterSeconds?: number;
  ms?: number;
  chunkBytes?: number;
  /** How many matching requests this rule applies to (default: all). */
  times?: number;
  /** Let this many matching requests through first. */
  skip?: number;
  /** Chance in [0,1] that a matching request is hit (default 1). */
  probability?: number;
  /** malform-after-commit: fields to set in the JSON body; null removes the field. */
  patch?: Record<string, unknown>;
  /** malform-after-commit: the whole body instead (sent as text/html). */
  rawBody?: string;
}

interface LiveRule {
  rule: FaultRule;
  regex: RegExp;
  used: number;
  seen: number;
}

function toRegex(route: string | RegExp): RegExp {
  if (route instanceof RegExp) return route;
  const src = route
    .split('*')
    .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^?]*');
  return new RegExp(`^${src}$`);
}

export class FaultSet {
  private rules: LiveRule[] = [];

  add(rule: FaultRule): void {
    if (rule.action === 'status' && rule.status === undefined)
      throw new TypeError('fault rule: action "status" needs a status');
    this.rules.push({ rule, regex: toRegex(rule.route), used: 0, seen: 0 });
  }

  clear(): void {
    this.rules = [];
  }

  list(): Array<FaultRule & { used: number }> {
    return this.rules.map((r) => ({ ...r.rule, used: r.used }));
  }

  /** The rule to apply to this request, if any (and counts it). */
  pick(method: string, path: string, grantType: string | undefined): FaultRule | undefined {
    for (const live of this.rules) {
      const r = live.rule;
      if (r.method && r.method.toUpperCase() !== method) continue;
      if (r.grantType && r.grantType !== grantType) continue;
      if (!live.regex.test(path)) continue;
      if (r.times !== undefined && live.used >= r.times) continue;
      live.seen += 1;
      if (r.skip !== undefined && live.seen <= r.skip) continue;
      if (r.probability !== undefined && Math.random() >= r.probability) continue;
      live.used += 1;
      return r;
    }
    return undefined;
  }
}

/** A JSON-serialisable rule (control API): `"regex": true` makes `route` a regular expression. */
export function ruleFromJson(v: Record<string, unknown>): FaultRule {
  const route = typeof v.route === 'string' ? v.route : '';
  const { regex, ...rest } = v;
  return { ...(rest as unknown as FaultRule), route: regex === true ? new RegExp(route) : route };
}
