import { Inject, Injectable, Logger } from '@nestjs/common';
import { RedisClient } from '../../common/redis.provider';
import { CLOCK, Clock, systemClock } from '../../common/clock';

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  resetMs: number;
  /** Which limit refused the request, when one did. */
  exceeded?: 'requests' | 'events';
}

export interface RateLimits {
  rps: number;
  eps: number;
}

/** What Redis granted this instance: requests and events it may admit in the window, and the counts after the grant. */
export interface Grant {
  ok: boolean;
  requests: number;
  events: number;
  grantedRequests: number;
  grantedEvents: number;
  exceeded?: 'requests' | 'events';
}

/** Reserves budget of a tenant's window in Redis: `need` must fit or nothing is counted; up to `extra` more is taken if it fits. */
export type Reserve = (
  tenantId: string,
  window: number,
  limits: RateLimits,
  need: { requests: number; events: number },
  extra: { requests: number; events: number },
) => Promise<Grant>;

// Fixed one-second windows per tenant, requests and events checked and counted atomically: a
// refused reservation counts against neither limit. What is needed must fit; the extra is taken
// as far as it fits. The window is the api's (its key names it); its keys live until a second
// after it ends by the api's clock (ARGV[7]) and at least 2 s by Redis's own, so that a clock
// ahead of Redis's never finds the count of its window gone while the window lasts.
const SCRIPT = `
local r = tonumber(redis.call('GET', KEYS[1]) or '0')
local e = tonumber(redis.call('GET', KEYS[2]) or '0')
local rps, eps = tonumber(ARGV[1]), tonumber(ARGV[2])
local nr, ne, xr, xe = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if nr > 0 and r + nr > rps then return {0, r, e, 0, 0, 1} end
if ne > 0 and e + ne > eps then return {0, r, e, 0, 0, 2} end
local function expire(key)
  local t = redis.call('TIME')
  local soonest = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + 2000
  redis.call('PEXPIREAT', key, math.max(tonumber(ARGV[7]), soonest))
end
local gr = nr + math.max(0, math.min(xr, rps - r - nr))
local ge = ne + math.max(0, math.min(xe, eps - e - ne))
if gr > 0 then
  r = redis.call('INCRBY', KEYS[1], gr)
  if r == gr then expire(KEYS[1]) end
end
if ge > 0 then
  e = redis.call('INCRBY', KEYS[2], ge)
  if e == ge then expire(KEYS[2]) end
end
return {1, r, e, gr, ge, 0}`;

/** The share of a limit one reservation takes beyond what the request needs, and its ceilings. */
const LEASE_SHARE = 0.02;
const MAX_LEASE_REQUESTS = 100;
const MAX_LEASE_EVENTS = 5000;

/** The budget of one tenant's window this instance holds, reserved in Redis and not used yet. */
interface Lease {
  window: number;
  requests: number;
  events: number;
  /** the tenant's request count in Redis at the last reservation (this lease included) */
  counted: number;
  /** Redis has no requests left for this window: the count is at the limit until the window ends */
  spent: boolean;
  /** a reservation with extra budget is on its way (at most one at a time) */
  refilling: boolean;
}

const NONE = { requests: 0, events: 0 };

/**
 * Per-tenant request and event rate limits, counted in Redis and shared by every api instance.
 *
 * Each instance reserves a tenant's budget in small leases (2 % of the limit, at most 100 requests
 * and 5,000 events) and admits from its lease without asking Redis, so a busy tenant costs one
 * Redis round trip per lease instead of one per request. The next lease is reserved in the
 * background once the lease is half used, so that requests seldom wait for one; at most one
 * reservation with extra budget is on its way at a time, and a request that finds the lease empty
 * meanwhile reserves only what it needs. The limit is never exceeded, since every reservation is
 * counted in Redis; the price is that budget an instance holds unused at the end of a window is
 * lost to the others (less than two leases per instance). Once Redis has no requests left for the
 * window, the instance refuses the tenant's further requests of that window by itself (the count
 * only grows), beyond what its lease still holds. Under a limit of 50 per second a lease is exactly
 * what the request needs: one round trip per request, as exact as counting each.
 */
export class LeasedRateLimits {
  private readonly logger = new Logger('RateLimiter');
  private readonly leases = new Map<string, Lease>();

  constructor(
    private readonly reserve: Reserve,
    private readonly clock: Clock = systemClock(),
  ) {}

  async take(tenantId: string, events: number, limits: RateLimits): Promise<RateDecision> {
    const now = this.clock.now();
    const window = Math.floor(now / 1000);
    const resetMs = (window + 1) * 1000 - now;
    const lease = this.leaseOf(tenantId, window);
    const extra = {
      requests: Math.min(MAX_LEASE_REQUESTS, Math.floor(limits.rps * LEASE_SHARE)),
      events: events > 0 ? Math.min(MAX_LEASE_EVENTS, Math.floor(limits.eps * LEASE_SHARE)) : 0,
    };
    if (lease.requests >= 1 && lease.events >= events) {
      const decision = this.admit(lease, events, limits, resetMs);
      this.topUp(tenantId, lease, limits, extra);
      return decision;
    }
    if (lease.requests < 1 && lease.spent) return this.refuse(lease, limits, resetMs, 'requests');

    const need = { requests: lease.requests >= 1 ? 0 : 1, events: Math.max(0, events - lease.events) };
    const withExtra = !lease.refilling && extra.requests > 0;
    if (withExtra) lease.refilling = true;
    let grant: Grant;
    try {
      grant = await this.reserve(tenantId, window, limits, need, withExtra ? extra : NONE);
    } catch (err) {
      // Without Redis the limits cannot be counted; the request goes on and meets the
      // dependency's own failure (ingestion answers 503) rather than a false 429.
      this.logger.warn(`Rate limiter unavailable, request let through: ${(err as Error).message}`);
      return { allowed: true, limit: limits.rps, remaining: limits.rps, resetMs };
    } finally {
      if (withExtra) lease.refilling = false;
    }
    if (!grant.ok) {
      lease.counted = Math.max(lease.counted, grant.requests);
      if (grant.exceeded === 'requests') lease.spent = true;
      // A reservation with extra budget may have filled the lease meanwhile: what it holds is this request's too.
      if (lease.requests >= 1 && lease.events >= events) return this.admit(lease, events, limits, resetMs);
      return this.refuse(lease, limits, resetMs, grant.exceeded);
    }
    this.add(lease, grant, withExtra ? need.requests + extra.requests : null);
    return this.admit(lease, events, limits, resetMs);
  }

  /** Reserves the next lease in the background once the lease is half used. */
  private topUp(tenantId: string, lease: Lease, limits: RateLimits, extra: { requests: number; events: number }): void {
    if (lease.refilling || lease.spent || extra.requests === 0) return;
    if (lease.requests * 2 >= extra.requests && lease.events * 2 >= extra.events) return;
    lease.refilling = true;
    this.reserve(tenantId, lease.window, limits, NONE, extra)
      .then(
        (grant) => this.add(lease, grant, extra.requests),
        (err) => this.logger.warn(`Rate limiter unavailable, lease not renewed: ${(err as Error).message}`),
      )
      .finally(() => {
        lease.refilling = false;
      });
  }

  /**
   * Adds a grant to the lease. A grant short of the requests asked for (`asked`, when extra was
   * asked) means the window's requests are all taken.
   */
  private add(lease: Lease, grant: Grant, asked: number | null): void {
    lease.counted = Math.max(lease.counted, grant.requests);
    lease.requests += grant.grantedRequests;
    lease.events += grant.grantedEvents;
    if (asked !== null && grant.grantedRequests < asked) lease.spent = true;
  }

  private leaseOf(tenantId: string, window: number): Lease {
    const held = this.leases.get(tenantId);
    if (held && held.window === window) return held;
    if (this.leases.size >= 10_000) this.forgetBefore(window);
    const lease: Lease = { window, requests: 0, events: 0, counted: 0, spent: false, refilling: false };
    this.leases.set(tenantId, lease);
    return lease;
  }

  private admit(lease: Lease, events: number, limits: RateLimits, resetMs: number): RateDecision {
    lease.requests -= 1;
    lease.events -= events;
    return { allowed: true, limit: limits.rps, remaining: this.remaining(lease, limits), resetMs };
  }

  private refuse(lease: Lease, limits: RateLimits, resetMs: number, exceeded: RateDecision['exceeded']): RateDecision {
    return { allowed: false, limit: limits.rps, remaining: this.remaining(lease, limits), resetMs, exceeded };
  }

  /** Requests left in the window as far as this instance knows: the limit less what Redis counted, plus the unused lease. */
  private remaining(lease: Lease, limits: RateLimits): number {
    return Math.max(0, Math.min(limits.rps, limits.rps - lease.counted + lease.requests));
  }

  private forgetBefore(window: number): void {
    for (const [tenant, lease] of this.leases) if (lease.window < window) this.leases.delete(tenant);
  }
}

/** The limits with leases reserved by the analyticsRateLimit script. */
@Injectable()
export class RateLimiter extends LeasedRateLimits {
  constructor(redis: RedisClient, @Inject(CLOCK) clock: Clock) {
    redis.defineCommand('analyticsRateLimit', { numberOfKeys: 2, lua: SCRIPT });
    const run = (
      redis as unknown as {
        analyticsRateLimit(
          k1: string,
          k2: string,
          rps: number,
          eps: number,
          nr: number,
          ne: number,
          xr: number,
          xe: number,
          expireAt: number,
        ): Promise<number[]>;
      }
    ).analyticsRateLimit.bind(redis);
    super(async (tenantId, window, limits, need, extra) => {
      const [ok, requests, events, grantedRequests, grantedEvents, which] = await run(
        redis.key('rl', tenantId, String(window), 'r'),
        redis.key('rl', tenantId, String(window), 'e'),
        limits.rps,
        limits.eps,
        need.requests,
        need.events,
        extra.requests,
        extra.events,
        (window + 2) * 1000,
      );
      return {
        ok: ok === 1,
        requests,
        events,
        grantedRequests,
        grantedEvents,
        exceeded: which === 1 ? 'requests' : which === 2 ? 'events' : undefined,
      };
    }, clock);
  }
}
