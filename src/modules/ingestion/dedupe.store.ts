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
@Injectable()
export class DedupeStore {
  constructor(
    private readonly redis: RedisClient,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
  ) {}

  private keyOf(e: EventKey): string {
    return this.redis.key('dedupe', e.tenant_id, e.event_id);
  }

  /**
   * Claims each event in one round trip; `true` where this request is the first to claim it.
   * A repeat inside the same list loses to its first occurrence.
   */
  async claim(events: EventKey[]): Promise<boolean[]> {
    if (events.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const e of events) pipeline.set(this.keyOf(e), '1', 'PX', this.config.ingestion.dedupeWindowMs, 'NX');
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, reply]) => {
      if (err) throw err;
      return reply === 'OK';
    });
  }

  /** Gives claims back, so that a client's retry after a failed enqueue is not taken for a duplicate. */
  async release(events: EventKey[]): Promise<void> {
    if (events.length === 0) return;
    await this.redis.del(...events.map((e) => this.keyOf(e)));
  }
}
