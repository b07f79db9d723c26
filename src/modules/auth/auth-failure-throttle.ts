import { Inject, Injectable } from '@nestjs/common';
import { AnalyticsConfig } from '../config/analytics-config';
import { CLOCK, Clock } from '../../common/clock';

/** Most client addresses remembered; beyond it the least recently seen is forgotten. */
const MAX_ADDRESSES = 10_000;

/**
 * Failed authentications per client address, in this instance's memory: a token bucket of
 * ANALYTICS_AUTH_FAILURES_PER_MIN tokens, refilled at that rate, one token per failure. An address
 * whose bucket is empty is throttled: {@link retryAfterS} says for how long.
 *
 * The address is the TCP peer's, never a forwarded header a client could choose; behind a proxy
 * that is the proxy's, and its clients share one bucket.
 */
@Injectable()
export class AuthFailureThrottle {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly capacity: number;
  private readonly perMs: number;

  constructor(
    @Inject(AnalyticsConfig) config: AnalyticsConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.capacity = config.auth.failuresPerMin;
    this.perMs = this.capacity / 60_000;
  }

  get limitPerMin(): number {
    return this.capacity;
  }

  /** Seconds until this address may fail again, or null when it is not throttled. */
  retryAfterS(address: string | undefined): number | null {
    if (!address) return null;
    const b = this.bucket(address, false);
    if (!b || b.tokens >= 1) return null;
    return Math.max(1, Math.ceil((1 - b.tokens) / this.perMs / 1000));
  }

  /** Counts one failed authentication against the address. */
  fail(address: string | undefined): void {
    if (!address) return;
    const b = this.bucket(address, true)!;
    b.tokens = Math.max(0, b.tokens - 1);
  }

  private bucket(address: string, create: boolean): { tokens: number; at: number } | undefined {
    const now = this.clock.now();
    let b = this.buckets.get(address);
    if (b) {
      b.tokens = Math.min(this.capacity, b.tokens + (now - b.at) * this.perMs);
      b.at = now;
      // Least recently seen first: a full bucket is as good as none.
      this.buckets.delete(address);
      if (b.tokens >= this.capacity && !create) return undefined;
      this.buckets.set(address, b);
    } else if (create) {
      b = { tokens: this.capacity, at: now };
      if (this.buckets.size >= MAX_ADDRESSES) this.buckets.delete(this.buckets.keys().next().value!);
      this.buckets.set(address, b);
    }
    return b;
  }
}
