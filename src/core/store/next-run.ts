/**
 * Shares one run of a read or a check among callers that ask for it at once, without handing anyone a stale
 * answer: a caller that arrives while a run is in progress waits for the NEXT run, which starts when that one
 * ends, so every caller's answer comes from a run that started after it asked (the way group commit shares
 * one lock wait, group-commit.ts). A `serve` answering 200 links at once read the store 200 times and probed
 * its folder 200 times (issue 17 bench); now at most two runs go back to back, whatever the number of callers.
 * `onShared` sees a result that more than one caller receives (the file store freezes a shared document, so
 * no caller can change what another reads).
 */
export function sharedNextRun<T>(run: () => Promise<T>, onShared?: (value: T) => void): () => Promise<T> {
  let current: Promise<T> | undefined;
  let next: { promise: Promise<T>; callers: number } | undefined;
  const start = (callers: number): Promise<T> => {
    const p = run()
      .then((value) => {
        if (callers > 1) onShared?.(value);
        return value;
      })
      .finally(() => {
        if (current === p) current = undefined;
      });
    current = p;
    return p;
  };
  return () => {
    if (current === undefined) return start(1);
    if (next) {
      next.callers += 1;
      return next.promise;
    }
    const waiting: { promise: Promise<T>; callers: number } = { promise: undefined as never, callers: 1 };
    waiting.promise = current
      .catch(() => undefined)
      .then(() => {
        next = undefined;
        return start(waiting.callers);
      });
    next = waiting;
    return waiting.promise;
  };
}
