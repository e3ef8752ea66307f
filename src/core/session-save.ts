/**
 * The save right after a refresh POST (issue 6 step 4, reliability.md F6; issue 15): Box has already rotated,
 * so a failed write is retried (3 attempts, 200/400 ms apart) whatever the failure: a full disk freed, a busy
 * store lock, a PostgreSQL connection re-established. Only a fenced-out save is final: the record changed
 * under us and writing again cannot be right (FencedSaveError, handled by session-failures.ts).
 */
import { FencedSaveError } from './store/document.js';
import type { StoredUser, TokenStore } from './store/types.js';

export async function saveWithRetry(
  store: TokenStore,
  mutate: Parameters<TokenStore['update']>[0],
  onRetry: (err: unknown, attempt: number) => void,
): Promise<StoredUser> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await store.update(mutate)) as StoredUser;
    } catch (err) {
      if (err instanceof FencedSaveError || attempt >= 3) throw err;
      onRetry(err, attempt);
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}
