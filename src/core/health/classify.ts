/**
 * Which refresh failures make a connection `degraded` (issue 18): the temporary ones (exit 75) that come
 * from Box or the way to it. A busy store lock or a stop request says nothing about the connection.
 */
import { TemporaryError } from '../../errors.js';
import { NetworkError } from '../http/network-error.js';
import { RotationUnknownError } from '../oauth/token-endpoint.js';
import type { TemporaryKind } from './types.js';

export function temporaryKind(err: unknown): TemporaryKind | undefined {
  if (err instanceof NetworkError) return 'network';
  if (err instanceof RotationUnknownError) return 'bad_answer';
  if (!(err instanceof TemporaryError)) return undefined;
  const status = err.details?.status;
  if (status === 429) return 'rate_limited';
  if (typeof status === 'number' && status >= 500) return 'box_5xx';
  return 'network';
}
