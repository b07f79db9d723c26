import { Inject, Injectable, Logger } from '@nestjs/common';
import { RedisClient } from '../../common/redis.provider';
import { AnalyticsConfig } from '../config/analytics-config';
import { LiveBucket, LiveFold, liveChannel, liveStreamKey } from '../contracts/live';
import { FoldableEvent, RollupDelta, ALL_SITES } from './rollup-fold';

// One entry in the tenant's history, then the same message, with the entry's id, to every api.
const SCRIPT = `
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'm', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PUBLISH', KEYS[2], ARGV[2] .. '|' .. id .. '|' .. ARGV[3])
return id`;

/** A tenant's history outlives a quiet day at most; a stream that is not written to goes. */
const HISTORY_TTL_MS = 86_400_000;

/**
 * After each fold round (worker role): per tenant, the minute buckets the round changed, into the
 * tenant's live history and onto the live channel (see contracts/live.ts). Best effort: the fold
 * is committed whatever Redis says, and a stream client that misses a message reads the reports.
 */
@Injectable()
export class LivePublisher {
  private readonly logger = new Logger(LivePublisher.name);
  private lastError = 0;
  private readonly run: (
    stream: string,
    channel: string,
    max: number,
    tenant: string,
    json: string,
    ttl: number,
  ) => Promise<string>;

  constructor(
    private readonly redis: RedisClient,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
  ) {
    redis.defineCommand('analyticsLivePublish', { numberOfKeys: 2, lua: SCRIPT });
    const r = redis as unknown as {
      analyticsLivePublish(
        k1: string,
        k2: string,
        max: number,
        tenant: string,
        json: string,
        ttl: number,
      ): Promise<string>;
    };
    this.run = (stream, channel, max, tenant, json, ttl) =>
      r.analyticsLivePublish(stream, channel, max, tenant, json, ttl);
  }

  async publish(events: FoldableEvent[], deltas: RollupDelta[], at = new Date()): Promise<void> {
    if (!events.length) return;
    const folds = liveFolds(events, deltas, at);
    const prefix = this.redis.prefix;
    try {
      await Promise.all(
        [...folds].map(([tenant, fold]) =>
          this.run(
            liveStreamKey(prefix, tenant),
            liveChannel(prefix),
            this.config.live.history,
            tenant,
            JSON.stringify(fold),
            HISTORY_TTL_MS,
          ),
        ),
      );
    } catch (err) {
      if (Date.now() - this.lastError > 60_000) {
        this.lastError = Date.now();
        this.logger.warn(`Live stream publish failed (the fold is stored): ${(err as Error).message}`);
      }
    }
  }
}

/** Per tenant: how many of its events a round folded, and the minute buckets it changed. */
export function liveFolds(events: FoldableEvent[], deltas: RollupDelta[], at: Date): Map<string, LiveFold> {
  const out = new Map<string, LiveFold>();
  const folded_at = at.toISOString();
  for (const e of events) {
    const f = out.get(e.tenant_id);
    if (f) f.events++;
    else out.set(e.tenant_id, { folded_at, events: 1, buckets: [] });
  }
  for (const d of deltas) {
    if (d.level !== 'm') continue;
    const f = out.get(d.tenant_id);
    if (!f) continue;
    const bucket: LiveBucket = {
      metric: d.metric,
      bucket: d.bucket,
      site_id: d.site_id === ALL_SITES ? '*' : d.site_id,
      source: d.source,
      count: d.count,
      num: d.num,
      sum: d.sum,
      min: d.min,
      max: d.max,
    };
    f.buckets.push(bucket);
  }
  return out;
}
