/**
 * The real Interrupts, bound to the process. Only main.ts uses this module.
 *
 * SIGINT/SIGTERM/SIGHUP outside a critical section abort `signal`, so waits end, listeners close and locks
 * are released, and the exit code becomes 128+signal. Inside a critical section (Box has answered a refresh
 * and the new pair is not yet durable) the signal is held until the section ends: dying there would lose a
 * rotated refresh token for good (reliability.md F8).
 *
 * `stopRequested` aborts the moment the first signal arrives, even inside a section (REVIEW-2 #1): in
 * `refresh --all` overlapping users keep some section open the whole run, so "held until no section is open"
 * alone never stopped anything; the protocol checks it before starting a user, before reserving and right
 * before each POST, and bails out with nothing sent. Only sections whose POST already went out are waited for.
 */
import type { Interrupts } from './deps.js';
import { InterruptedError } from './errors.js';

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/**
 * Leaves at once with the signal's exit status. While output is still queued, a write to a stalled pipe may be
 * stuck in a libuv worker thread, and process.exit() waits for that thread for ever (review 3 #1): then the
 * signal is raised again with its default action, which ends the process whatever its threads are doing (a
 * shell sees 128+n, as with exit(128+n)).
 */
function leave(sig: NodeJS.Signals, outputPending: () => boolean): never {
  if (outputPending()) {
    process.removeAllListeners(sig);
    process.kill(process.pid, sig);
  }
  process.exit(SIGNAL_EXIT[sig] ?? 130);
}

export function installProcessInterrupts(
  onNotice: (line: string) => void,
  outputPending: () => boolean = () => false,
): Interrupts {
  const controller = new AbortController();
  const stop = new AbortController();
  let depth = 0;
  let pending: NodeJS.Signals | undefined;
  let received: NodeJS.Signals | undefined;
  let exitWhenIdle: NodeJS.Signals | undefined;

  // Never into a critical section (one may start after the signal: connect's save, a refresh past its abort
  // check): the process then leaves as soon as the section ends, each being bounded by itself (REVIEW-1 #5).
  const exit = (sig: NodeJS.Signals) => {
    if (depth > 0) exitWhenIdle ??= sig;
    else leave(sig, outputPending);
  };

  const act = (sig: NodeJS.Signals) => {
    received ??= sig;
    if (!controller.signal.aborted) controller.abort(new Error(`received ${sig}`));
    // If some wait does not honour the abort, do not hang: leave with the signal's exit code.
    const timer = setTimeout(() => {
      exit(sig);
    }, 5000);
    timer.unref();
  };

  const onSignal = (sig: NodeJS.Signals) => {
    if (!stop.signal.aborted)
      stop.abort(new InterruptedError(`interrupted (${sig}): no further refresh was sent`, SIGNAL_EXIT[sig] ?? 130));
    if (depth > 0) {
      if (!pending) onNotice('saving the new tokens before stopping…');
      pending ??= sig;
      return;
    }
    if (received) {
      // A second signal while shutting down: leave now.
      leave(sig, outputPending);
    }
    act(sig);
  };
  for (const sig of Object.keys(SIGNAL_EXIT) as NodeJS.Signals[]) process.on(sig, onSignal);

  return {
    signal: controller.signal,
    stopRequested: stop.signal,
    async critical<T>(fn: () => Promise<T>): Promise<T> {
      depth += 1;
      try {
        return await fn();
      } finally {
        depth -= 1;
        if (depth === 0 && exitWhenIdle !== undefined) leave(exitWhenIdle, outputPending);
        if (depth === 0 && pending) {
          const sig = pending;
          pending = undefined;
          act(sig);
        }
      }
    },
    exitCode: () => (received ? SIGNAL_EXIT[received] : undefined),
  };
}
