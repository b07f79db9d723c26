import { backoffMs, RETRIED_STATUSES, retryAfterMs, RetryPolicy } from './retry.js';

export type FetchLike = (input: Request) => Promise<Response>;

/** What the transport reads from its surroundings; tests replace each one. */
export interface TransportSeams {
  random: () => number;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
}

/** One attempt that will be retried: why, and how long the client waits first. */
export interface RetryNotice {
  attempt: number;
  waitMs: number;
  status?: number;
  error?: unknown;
  url: string;
}

/**
 * A fetch that retries what the service could not take at the moment: a network error (no
 * answer), 429, 502, 503 and 504. It waits Retry-After when the answer gives one, else a full-jitter
 * exponential backoff, and resends the very same request (a clone of it), so a batch resent carries
 * the same event_ids and is deduplicated by the service: a retry is never a second copy. Any other
 * answer is returned as it is, as is the last one when the attempts run out.
 */
export function retryingFetch(
  base: FetchLike,
  policy: RetryPolicy,
  seams: TransportSeams,
  onRetry?: (n: RetryNotice) => void,
): FetchLike {
  return async (request: Request) => {
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await base(request.clone());
      } catch (error) {
        if (attempt >= policy.maxAttempts || request.signal?.aborted) throw error;
        const waitMs = backoffMs(attempt, policy, seams.random);
        onRetry?.({ attempt, waitMs, error, url: request.url });
        await seams.sleep(waitMs);
        continue;
      }
      if (!RETRIED_STATUSES.has(res.status) || attempt >= policy.maxAttempts) return res;
      const waitMs =
        retryAfterMs(res.headers.get('retry-after'), seams.now(), policy) ?? backoffMs(attempt, policy, seams.random);
      onRetry?.({ attempt, waitMs, status: res.status, url: request.url });
      await res.body?.cancel().catch(() => undefined);
      await seams.sleep(waitMs);
    }
  };
}
