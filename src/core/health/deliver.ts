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
}

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

/** Delivers every pending event this process can claim. Never throws. */
export async function deliverPending(ports: DeliverPorts): Promise<DeliverResult> {
  const result: DeliverResult = { delivered: 0, failed: 0 };
  if (ports.transports.length === 0) return result;
  let emails: string[];
  try {
    emails = usersWithPending(await ports.store.read());
  } catch (err) {
    ports.debug(`notifications: could not read the store: ${message(err)}`);
    return result;
  }
  for (const email of emails) {
    for (;;) {
      let claimed: PendingHealthEvent | undefined;
      try {
        claimed = await ports.store.update((doc) => claimNext(doc, email, ports.owner, ports.now()));
      } catch (err) {
        ports.debug(`notifications: could not claim an event of ${email}: ${message(err)}`);
        break;
      }
      if (!claimed) break;
      const ok = await deliverOne(ports, email, claimed);
      if (ok) result.delivered += 1;
      else {
        result.failed += 1;
        break;
      }
    }
  }
  return result;
}

async function deliverOne(ports: DeliverPorts, email: string, claimed: PendingHealthEvent): Promise<boolean> {
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
  try {
    await ports.store.update(settle);
  } catch (err) {
    // Delivered but not settled: the lease runs out and it is sent again (at least once; receivers dedupe by id).
    ports.debug(`notifications: could not settle ${claimed.id}: ${message(err)}`);
  }
  await historyNotification(ports.store, email, doc, failures.length === 0 ? 'ok' : 'failed', failures.join('; '));
  if (failures.length > 0) {
    ports.warn(
      `notification ${doc.event} for ${email} failed (${failures.join('; ')}); kept, the next run retries it (attempt ${claimed.attempts})`,
    );
    return false;
  }
  ports.debug(`notification ${doc.event} for ${email} delivered (id ${doc.id})`);
  return true;
}
