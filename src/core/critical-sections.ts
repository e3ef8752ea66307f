/**
 * The critical sections (a refresh's marker, POST and save; connect's save) a session has under way, so that
 * tearing the session down waits for them (REVIEW-1 finding 5). `ls` and listFolder fetch the next page
 * ahead, and a 401 on that page starts a refresh while the consumer may already be done (`ls --limit`,
 * `| head`, an error): closing the pool or the store under it would lose the rotated refresh token.
 *
 * track() wraps the session's interrupts; close() (the command's, the library's) first awaits drain(). Each
 * section is bounded by itself (the refresh POST deadline plus the save's own retry budget), so drain() is
 * too. Once draining began, a new section is refused before anything is written or sent: nothing is left
 * to run after the pool and the store are closed.
 */
import { OperationError } from '../errors.js';

export interface SectionInterrupts {
  critical<T>(fn: () => Promise<T>): Promise<T>;
  readonly signal?: AbortSignal;
}

export interface CriticalSections<I extends SectionInterrupts> {
  /** The same interrupts, whose critical() is tracked (and refused once drain() was called). */
  readonly interrupts: I;
  /** How many sections are running now. */
  readonly active: number;
  /** Resolves when no section is running; from its first call on, new sections are refused. */
  drain(): Promise<void>;
}

export function trackCriticalSections<I extends SectionInterrupts>(inner: I): CriticalSections<I> {
  const running = new Set<Promise<unknown>>();
  let draining = false;
  const critical = <T>(fn: () => Promise<T>): Promise<T> => {
    if (draining) {
      return Promise.reject(
        new OperationError('E_SESSION_CLOSED', 'the session was closed before this refresh started; nothing was sent'),
      );
    }
    const section = inner.critical(fn);
    const settled = section.then(
      () => undefined,
      () => undefined,
    );
    running.add(settled);
    void settled.then(() => running.delete(settled));
    return section;
  };
  // Own copies of inner's properties, getters included (a live `signal`), so a spread copy keeps them too.
  const interrupts = Object.defineProperties({} as I, {
    ...Object.getOwnPropertyDescriptors(inner),
    critical: { value: critical, enumerable: true },
  });
  return {
    interrupts,
    get active() {
      return running.size;
    },
    async drain() {
      draining = true;
      while (running.size > 0) await Promise.all([...running]);
    },
  };
}
