import { Injectable, Logger } from '@nestjs/common';
import { RedisClient } from '../../app/redis.provider';

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  resetMs: number;
  /** Which limit refused the request, when one did. */
  exceeded?: 'requests' | 'events';
}

// Fixed one-second windows per tenant, requests and events checked and counted atomically: a
// refused request counts against neither limit.
const SCRIPT = `
local r = tonumber(redis.call('GET', KEYS[1]) or '0')
local e = tonumber(redis.call('GET', KEYS[2]) or '0')
local n = tonumber(ARGV[3])
if r + 1 > tonumber(ARGV[1]) then return {0, r, e, 1} end
if n > 0 and e + n > tonumber(ARGV[2]) then return {0, r, e, 2} end
r = redis.call('INCR', KEYS[1])
if r == 1 then redis.call('PEXPIRE', KEYS[1], 2000) end
if n > 0 then
  e = redis.call('INCRBY', KEYS[2], n)
  if e == n then redis.call('PEXPIRE', KEYS[2], 2000) end
end
return {1, r, e, 0}`;

/** Per-tenant request and event rate limits in Redis, shared by every api instance. */
@Injectable()
export class RateLimiter {
  private readonly logger = new Logger(RateLimiter.name);

  constructor(private readonly redis: RedisClient) {
    this.redis.defineCommand('analyticsRateLimit', { numberOfKeys: 2, lua: SCRIPT });
  }

  async take(tenantId: string, events: number, limits: { rps: number; eps: number }, now = Date.now()): Promise<RateDecision> {
    const window = Math.floor(now / 1000);
    const resetMs = (window + 1) * 1000 - now;
    try {
      const [ok, requests, , which] = await (this.redis as unknown as {
        analyticsRateLimit(k1: string, k2: string, rps: number, eps: number, n: number): Promise<number[]>;
      }).analyticsRateLimit(this.redis.key('rl', tenantId, String(window), 'r'), this.redis.key('rl', tenantId, String(window), 'e'), limits.rps, limits.eps, events);
      return {
        allowed: ok === 1,
        limit: limits.rps,
        remaining: Math.max(0, limits.rps - requests),
        resetMs,
        exceeded: which === 1 ? 'requests' : which === 2 ? 'events' : undefined,
      };
    } catch (err) {
      // Without Redis the limits cannot be counted; the request goes on and meets the
      // dependency's own failure (ingestion answers 503) rather than a false 429.
      this.logger.warn(`Rate limiter unavailable, request let through: ${(err as Error).message}`);
      return { allowed: true, limit: limits.rps, remaining: limits.rps, resetMs };
    }
  }
}
