/**
 * Announces the transitions recorded in the store (issue 18): for each user with pending events, claim the
 * oldest (a lease, queue.ts), hand its one JSON document to every transport, then settle it in another
 * update. Runs AFTER the command's token saves are committed and never throws: a notifier that fails or
 * hangs costs one warning line and leaves the event for the next run (same id), never an exit code or a
 * token. Per user, order is kept: a failed event stops that user's queue for this run.
 */
import { reconnectCommand } from '../reconnect-command.js';
import type { TokenStore } from '../store/types.js';
import { claimNext, settleDelivered, settleFailed, usersWithPending } from './queue.js';
import { historyNotification } from './history-hook.js';
import type { PendingHealthEvent } from './types.js';

/** The document a notify command reads on stdin and a webhook receives (README "Notifications"). */
export interface NotifyEvent {
  id: string;
  event: PendingHealthEvent['event'];
  email: string;
  state: PendingHealthEvent['state'];
  reason: string | null;
  since: string;
  at: string;
  host: string;
  reconnect: string;
}

export interface NotifyTransport {
  /** Stable name kept in delivered_to: 'command' or 'webhook'. */
  readonly name: string;
  /** Resolves when delivered; rejects with a short, secret-free reason. */
  deliver(body: string, event: NotifyEvent): Promise<void>;
}

export interface DeliverPorts {
  store: TokenStore;
  now(): number;
  /** This process's claim id (random per process). */
  owner: string;
  transports: readonly NotifyTransport[];
  /** BOX_QC_PUBLIC_URL is set: the reconnect hint names `box-qc invite`. */
  publicUrlConfigured: boolean;
  /** One line per failed event (stderr). */
  warn(line: string): void;
  debug(line: string): void;
  /** Stop claiming new events after this long (ms; default DELIVERY_BUDGET_MS): the command's exit waits. */
  budgetMs?: number;
}

/**
 * What one run spends on notifications at most, before it leaves the rest for the next run: `token` and `ls`
 * are waited for by scripts, and a receiver that is down would otherwise cost 10 s per pending event
 * (review of issue 18, finding 2).
 */
export const DELIVERY_BUDGET_MS = 12_000;

/** Each call claims under its own id: two deliveries in one process (serve) never take the same lease. */
let calls = 0;

export interface DeliverResult {
  delivered: number;
  failed: number;
}

export function eventDocument(email: string, e: PendingHealthEvent, publicUrlConfigured: boolean): NotifyEvent {
  return {
    id: e.id,
    event: e.event,
    email,
    state: e.state,
    reason: e.reason ?? null,
    since: e.since,
    at: e.at,
    host: e.host,
    reconnect: reconnectCommand(email, publicUrlConfigured),
  };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Delivers the pending events this call can claim, oldest first per user. Never throws. Stops at the first
 * failure (a receiver that is down is down for everyone: the rest wait for the next run) and when the budget
 * is spent.
 */
export async function deliverPending(ports: DeliverPorts): Promise<DeliverResult> {
  const result: DeliverResult = { delivered: 0, failed: 0 };
  if (ports.transports.length === 0) return result;
  calls += 1;
  const claim = { ...ports, owner: `${ports.owner}/${calls}` };
  const started = ports.now();
  const budget = ports.budgetMs ?? DELIVERY_BUDGET_MS;
  let emails: string[];
  try {
    emails = usersWithPending(await ports.store.read());
  } catch (err) {
    ports.debug(`notifications: could not read the store: ${message(err)}`);
    return result;
  }
  for (const email of emails) {
    for (;;) {
      if (ports.now() - started > budget) {
        ports.debug('notifications: the run has spent its delivery budget; the rest wait for the next run');
        return result;
      }
      let claimed: PendingHealthEvent | undefined;
      try {
        claimed = await ports.store.update((doc) => claimNext(doc, email, claim.owner, ports.now()));
      } catch (err) {
        ports.debug(`notifications: could not claim an event of ${email}: ${message(err)}`);
        return result;
      }
      if (!claimed) break;
      const outcome = await deliverOne(claim, email, claimed);
      if (outcome === 'delivered') result.delivered += 1;
      else {
        if (outcome === 'failed') result.failed += 1;
        return result;
      }
    }
  }
  return result;
}

/** 'unsettled': delivered, but the store did not take the settle: stop (the lease runs out, then a retry). */
async function deliverOne(
  ports: DeliverPorts,
  email: string,
  claimed: PendingHealthEvent,
): Promise<'delivered' | 'failed' | 'unsettled'> {
  const doc = eventDocument(email, claimed, ports.publicUrlConfigured);
  const body = JSON.stringify(doc);
  const done = new Set(claimed.delivered_to ?? []);
  const failures: string[] = [];
  for (const t of ports.transports) {
    if (done.has(t.name)) continue;
    try {
      await t.deliver(body, doc);
      done.add(t.name);
    } catch (err) {
      failures.push(message(err));
    }
  }
  const settle =
    failures.length === 0
      ? (d: Parameters<typeof settleDelivered>[0]) => settleDelivered(d, email, claimed.id)
      : (d: Parameters<typeof settleDelivered>[0]) =>
          settleFailed(d, email, claimed.id, ports.owner, failures.join('; '), [...done]);
  let settled = true;
  try {
    await ports.store.update(settle);
  } catch (err) {
    // Delivered but not settled: the lease runs out and it is sent again (at least once; receivers dedupe by id).
    ports.debug(`notifications: could not settle ${claimed.id}: ${message(err)}`);
    settled = false;
  }
  await historyNotification(ports.store, email, doc, failures.length === 0 ? 'ok' : 'failed', failures.join('; '));
  if (failures.length > 0) {
    ports.warn(
      `notification ${doc.event} for ${email} failed (${failures.join('; ')}); kept, the next run retries it (attempt ${claimed.attempts})`,
    );
    return 'failed';
  }
  ports.debug(`notification ${doc.event} for ${email} delivered (id ${doc.id})`);
  return settled ? 'delivered' : 'unsettled';
}
