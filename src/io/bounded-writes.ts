/**
 * A bound on what a reader that stopped reading can cost us (REVIEW-2 finding 2). Pipes, sockets and
 * terminals are written asynchronously (Node's stream queues what the descriptor does not take yet), so a
 * stalled `2>&1 | logger` or Docker's blocking log mode can no longer freeze the event loop between a
 * refresh POST and its save; but that queue is unbounded. Past `limitBytes` queued, new chunks are dropped
 * and their lines counted; once the reader catches up ('drain'), one line says how many were lost.
 * Order is kept: a chunk is either queued behind everything before it or dropped whole.
 * Only for stderr: stdout carries data, which is never dropped (its back-pressure reaches the caller).
 */
export interface QueueingStream {
  write(chunk: string | Uint8Array, ...rest: never[]): boolean;
  readonly writableLength: number;
  once(event: 'drain', listener: () => void): unknown;
}

export interface BoundOptions {
  limitBytes: number;
  /** The line written once the queue has drained after `lines` lines were dropped. */
  notice(lines: number): string;
}

export interface BoundedStats {
  /** Lines dropped since the last notice (0 once it has been queued). */
  readonly pendingDropped: number;
  /** Every line dropped so far. */
  readonly droppedTotal: number;
}

/** Wraps stream.write in place (the stream keeps its identity: ora needs the real terminal stream). */
export function boundWrites(stream: QueueingStream, opts: BoundOptions): BoundedStats {
  const write: (chunk: string | Uint8Array) => boolean = stream.write.bind(stream);
  let pending = 0;
  let total = 0;
  let waiting = false;
  const report = () => {
    waiting = false;
    const lines = pending;
    pending = 0;
    if (lines > 0) write(opts.notice(lines));
  };
  (stream as { write: (chunk: string | Uint8Array) => boolean }).write = (chunk) => {
    if (stream.writableLength + byteLength(chunk) <= opts.limitBytes) return write(chunk);
    const lines = countLines(chunk);
    pending += lines;
    total += lines;
    // The queue is far over the stream's high-water mark, so 'drain' comes once it has been written out.
    if (!waiting) {
      waiting = true;
      stream.once('drain', report);
    }
    return true; // Nobody waits on stderr: a dropped line costs itself, never the caller.
  };
  return {
    get pendingDropped() {
      return pending;
    },
    get droppedTotal() {
      return total;
    },
  };
}

function byteLength(chunk: string | Uint8Array): number {
  return typeof chunk === 'string' ? Buffer.byteLength(chunk, 'utf8') : chunk.length;
}

function countLines(chunk: string | Uint8Array): number {
  const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n += 1;
  return Math.max(n, 1);
}
