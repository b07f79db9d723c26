import { Inject, Injectable } from '@nestjs/common';
import { RedisClient } from '../../app/redis.provider';
import { AnalyticsConfig } from '../config/analytics-config';

export interface EventKey {
  tenant_id: string;
  event_id: string;
}

/**
 * The fast path of exactly-once: a Redis SET NX per (tenant, event) for the dedupe window.
 * It only spares the queue and the database obvious repeats; the durable ledger in the worker's
 * transaction is what guarantees an event is stored once.
 */
/** SET NX with the window on every key; 1 where this call set it. One command for a whole batch. */
const CLAIM = `
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, '1', 'PX', ARGV[1], 'NX') then out[i] = 1 else out[i] = 0 end
end
return out`;

@Injectable()
export class DedupeStore {
  constructor(
    private readonly redis: RedisClient,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
  ) {
    this.redis.defineCommand('analyticsClaim', { lua: CLAIM });
  }

  private keyOf(e: EventKey): string {
    return this.redis.key('dedupe', e.tenant_id, e.event_id);
  }

  /**
   * Claims each event in one command (a script, so a batch of 500 is one reply, not 500);
   * `true` where this request is the first to claim it. A repeat inside the same list loses to its
   * first occurrence. (All keys in one script: fine on one Redis, not on a Redis Cluster.)
   */
  async claim(events: EventKey[]): Promise<boolean[]> {
    if (events.length === 0) return [];
    const replies = await (this.redis as unknown as { analyticsClaim(numKeys: number, ...args: (string | number)[]): Promise<number[]> })
      .analyticsClaim(events.length, ...events.map((e) => this.keyOf(e)), this.config.ingestion.dedupeWindowMs);
    return replies.map((r) => r === 1);
  }

  /** Gives claims back, so that a client's retry after a failed enqueue is not taken for a duplicate. */
  async release(events: EventKey[]): Promise<void> {
    if (events.length === 0) return;
    await this.redis.del(...events.map((e) => this.keyOf(e)));
  }
}
