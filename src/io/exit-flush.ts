/**
 * How the process ends once the work is done and saved (REVIEW-2 finding 2). Output to a pipe, socket or
 * terminal is written asynchronously, and Node keeps the process alive until every queued byte is written:
 * - stdout is data the user asked for (ls, status --json, token): it is always written to the end, however
 *   slowly its reader takes it, exactly as before (a reader that never reads holds the run, as with any
 *   tool; `| head` closing is EPIPE, which ends it at once);
 * - stderr is for humans: a reader that stopped reading (a stalled `| logger`, Docker's blocking log mode)
 *   gets `graceMs` more once the work is done, then what it has not taken is abandoned and the process exits
 *   with its own code, so cron never hangs on a log pipe.
 */
import { settled, type OutStream } from './output.js';

/** 2 s: a live reader (a terminal, a logger that is merely slow) catches up well within it. */
export const STDERR_EXIT_GRACE_MS = 2_000;

export function exitWhenFlushed(
  stdout: OutStream,
  stderr: OutStream,
  exit: () => void,
  graceMs = STDERR_EXIT_GRACE_MS,
): void {
  if ((stderr.writableLength ?? 0) === 0) return; // nothing queued: the event loop ends by itself
  const timer = setTimeout(() => {
    // Caught up meanwhile: not stalled, nothing to cut short; whatever else runs ends as it would have.
    if ((stderr.writableLength ?? 0) === 0) return;
    void drained(stdout).then(exit);
  }, graceMs);
  // Never the reason the process stays: if everything is written first, the process ends without it.
  timer.unref();
}

/**
 * Resolves once stdout has nothing queued (or can take nothing more). Watched by polling as well as by events:
 * 'drain' follows only a write() that returned false, so a small document that finishes late would never
 * announce it, and a stalled stderr would then hold the process for ever (review 3).
 */
function drained(stream: OutStream): Promise<void> {
  const idle = () => (stream.writableLength ?? 0) === 0 || stream.destroyed === true;
  if (idle() || !stream.once) return Promise.resolve();
  return new Promise((resolve) => {
    const poll = setInterval(() => {
      if (!idle()) return;
      clearInterval(poll);
      resolve();
    }, 20);
    poll.unref();
    void settled(stream).then(() => {
      clearInterval(poll);
      resolve();
    });
  });
}
