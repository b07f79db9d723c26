/** How the client retries a request the service could not take at the moment. */
export interface RetryOptions {
  /** Attempts in all, the first included (default 8). */
  maxAttempts?: number;
  /** The first backoff's upper bound (default 200 ms); each next one doubles. */
  baseDelayMs?: number;
  /** No backoff, nor Retry-After, waits longer than this (default 30 s). */
  maxDelayMs?: number;
}

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 8, baseDelayMs: 200, maxDelayMs: 30_000 };

/** Statuses that say "not now": rate limited, unavailable (draining, backlog, dependency down), gateways. */
export const RETRIED_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

export function retryPolicy(options: RetryOptions = {}): RetryPolicy {
  const p = { ...DEFAULT_RETRY, ...stripUndefined(options) };
  if (!Number.isInteger(p.maxAttempts) || p.maxAttempts < 1)
    throw new RangeError('retry.maxAttempts must be an integer ≥ 1');
  if (!(p.baseDelayMs >= 0) || !(p.maxDelayMs >= p.baseDelayMs))
    throw new RangeError('retry.baseDelayMs must be ≥ 0 and retry.maxDelayMs ≥ retry.baseDelayMs');
  return p;
}

/**
 * The wait before retry number `retry` (1 for the first retry): "full jitter", a uniform draw in
 * [0, min(maxDelayMs, baseDelayMs × 2^(retry−1))), so clients that failed together do not come back
 * together. `random` is Math.random unless a test injects one.
 */
export function backoffMs(retry: number, policy: RetryPolicy, random: () => number): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return Math.floor(random() * cap);
}

/**
 * Retry-After as milliseconds from `now`: delta-seconds or an HTTP date; null when absent or
 * unreadable. Capped at maxDelayMs.
 */
export function retryAfterMs(header: string | null, now: number, policy: RetryPolicy): number | null {
  if (header === null || header.trim() === '') return null;
  const value = header.trim();
  let ms: number;
  if (/^\d+$/.test(value)) ms = Number(value) * 1000;
  else {
    const at = Date.parse(value);
    if (!Number.isFinite(at)) return null;
    ms = Math.max(0, at - now);
  }
  return Math.min(ms, policy.maxDelayMs);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
