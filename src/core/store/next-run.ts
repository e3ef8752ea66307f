/**
 * Shares one run of a read or a check among callers that ask for it at once, without handing anyone a stale
 * answer: a caller that arrives while a run is in progress waits for the NEXT run, which starts when that one
 * ends, so every caller's answer comes from a run that started after it asked (the way group commit shares
 * one lock wait, group-commit.ts). A `serve` answering 200 links at once read the store 200 times and probed
 * its folder 200 times (issue 17 bench); now runs go one after another, never two at once, whatever the
 * number of callers. `onShared` sees a result that more than one caller receives (the file store freezes a
 * shared document, so no caller can change what another reads).
 */
export function sharedNextRun<T>(run: () => Promise<T>, onShared?: (value: T) => void): () => Promise<T> {
  let busy = false;
  let queued: { callers: number; promise: Promise<T>; resolve(v: T): void; reject(e: unknown): void } | undefined;
  const launch = (callers: number): Promise<T> => {
    busy = true;
    let started: Promise<T>;
    try {
      started = run();
    } catch (err) {
      started = Promise.reject(err);
    }
    const p = started.then((value) => {
      if (callers > 1) onShared?.(value);
      return value;
    });
    // The queued run starts in the same step that ends this one: no moment in which a newcomer could start a
    // second run beside it (review of 0440c4c, finding 4).
    const next = () => {
      const q = queued;
      queued = undefined;
      if (q) launch(q.callers).then(q.resolve, q.reject);
      else busy = false;
    };
    p.then(next, next);
    return p;
  };
  return () => {
    if (!busy) return launch(1);
    if (queued) {
      queued.callers += 1;
      return queued.promise;
    }
    let resolve!: (v: T) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    queued = { callers: 1, promise, resolve, reject };
    return promise;
  };
}
