/**
 * A stop asked for (SIGTERM/SIGINT/SIGHUP, a library's abort) ends the refresh protocol at the next point
 * where nothing has been sent yet (REVIEW-2 #1, #10): before a user is started, before the save is reserved,
 * and right before the POST, after the in-flight marker was written (that marker is then cleared again).
 * `stopRequested` is set the moment the signal arrives, while `signal` itself is held back until no critical
 * section is open (process-signals.ts): checking `signal` alone let `refresh --all` start every remaining
 * user while overlapping sections kept it held.
 */
export interface StopSource {
  readonly signal?: AbortSignal;
  readonly stopRequested?: AbortSignal;
}

/** Aborted once a stop was asked for; undefined when nothing can ask (a bare library session). */
export function stopSignal(interrupts: StopSource): AbortSignal | undefined {
  const { signal, stopRequested } = interrupts;
  if (signal && stopRequested) return AbortSignal.any([signal, stopRequested]);
  return stopRequested ?? signal;
}

export function stopAsked(interrupts: StopSource): boolean {
  return interrupts.stopRequested?.aborted === true || interrupts.signal?.aborted === true;
}

/** Throws the stop's own reason (process-signals: an InterruptedError with 128+n) when a stop was asked for. */
export function throwIfStopAsked(interrupts: StopSource): void {
  if (interrupts.stopRequested?.aborted) throw interrupts.stopRequested.reason;
  interrupts.signal?.throwIfAborted();
}
