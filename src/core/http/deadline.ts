/**
 * The deadline of one request (issue 15 item 3): a deadline never discards an answer that has arrived.
 *
 * Why not AbortSignal.timeout: a process that was paused (laptop asleep, VM paused, `kill -STOP`) wakes
 * with its timers overdue and the answer already in the socket. After SIGCONT, epoll_wait returns EINTR and
 * libuv goes on to the timers phase without polling; a plain timer fires first and the abort destroys the
 * socket with the answer unread. For a refresh that is a rotated refresh token thrown away: the user is lost.
 *
 * So when the deadline is due it first lets Node poll for I/O (afterPendingIo) and aborts only if no byte of
 * the answer arrived meanwhile. While the answer keeps arriving (gaps shorter than the idle bound) it is read
 * on, up to a hard stop (graceMs after the deadline was first judged), which is judged after a poll too, so
 * an answer that is whole in the socket is always read. The pools report progress: connected() once request bytes can reach the server
 * (the connection, and TLS, are up), received() for every chunk of the answer.
 */

/** What a pool tells the deadline; also how sendRequest knows whether the request may have been sent. */
export interface RequestProgress {
  /** The connection (and TLS) is up: from now on bytes of the request may reach the server. */
  connected(): void;
  /** Bytes of the answer arrived (status line, headers or body). */
  received(): void;
}

export interface Deadline extends RequestProgress {
  /** Aborted only when the deadline really expired (never while an answer is arriving). */
  readonly signal: AbortSignal;
  readonly expired: boolean;
  readonly wasConnected: boolean;
  readonly wasReceived: boolean;
  /** Stops the timers; call when the request settled. */
  dispose(): void;
}

export interface DeadlineOptions {
  /** Longest silence tolerated while an answer is arriving past the deadline (default min(2 s, deadline)). */
  idleMs?: number;
  /**
   * How long after the deadline an arriving answer may still be read: default min(deadline, 10 s). Bounded so
   * an active exchange ends within the refresh POST bound + 15 s that other processes wait on an in-flight
   * marker before replaying it (issue 15 interface D); a paused process is the exception no bound avoids.
   */
  graceMs?: number;
  /**
   * The pool reports connected() (node:http): a deadline that finds the request not yet connected aborts at
   * once, without first polling. The request is written only when the connection comes up, in the poll
   * phase; polling first could put it on the wire just to abandon it unanswered (ambiguous for a refresh),
   * whereas aborting now provably sends nothing.
   */
  abortUnconnected?: boolean;
}

/**
 * Runs fn once Node has been through its poll phase twice more, so that bytes already in a socket (they
 * arrived while the process was paused) have been read. An immediate runs in the check phase, right after a
 * poll; the second one gives a second poll, for what the first read only set in motion (TLS records, an
 * answer split across reads).
 */
export function afterPendingIo(fn: () => void): void {
  setImmediate(() => setImmediate(fn));
}

export class DeadlineExpiredError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(readonly ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

export function startDeadline(ms: number, options: DeadlineOptions = {}): Deadline {
  const idleMs = options.idleMs ?? Math.min(ms, 2_000);
  const graceMs = options.graceMs ?? Math.min(ms, 10_000);
  // Counted from the first judgement, not from the start: a pause must not use up the grace of an answer
  // that is arriving when the process wakes.
  let hardStop: number | undefined;
  const controller = new AbortController();
  let received = 0;
  let lastReceivedAt = -Infinity;
  let connected = false;
  let expired = false;
  let disposed = false;
  let timer: NodeJS.Timeout | undefined;

  const expire = () => {
    expired = true;
    controller.abort(new DeadlineExpiredError(ms));
  };
  const judge = (mark: number) => {
    if (disposed) return;
    const now = performance.now();
    hardStop ??= now + graceMs;
    const arriving = received !== mark || now - lastReceivedAt < idleMs;
    if (arriving && now < hardStop) arm(idleMs);
    else expire();
  };
  const due = () => {
    timer = undefined;
    if (options.abortUnconnected && !connected) {
      expire();
      return;
    }
    const mark = received;
    afterPendingIo(() => judge(mark));
  };
  function arm(after: number): void {
    // Unref'd like AbortSignal.timeout: the socket keeps the process alive, the deadline alone must not.
    timer = setTimeout(due, after);
    timer.unref();
  }
  arm(ms);

  return {
    signal: controller.signal,
    get expired() {
      return expired;
    },
    get wasConnected() {
      return connected;
    },
    get wasReceived() {
      return received > 0;
    },
    connected() {
      connected = true;
    },
    received() {
      connected = true;
      received += 1;
      lastReceivedAt = performance.now();
    },
    dispose() {
      disposed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}
