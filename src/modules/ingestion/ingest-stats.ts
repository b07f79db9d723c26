import { Injectable, Logger } from '@nestjs/common';
import { RedisClient } from '../../app/redis.provider';

export interface IngestCounters {
  accepted: number;
  duplicate: number;
  rejected: number;
}

const FIELDS: (keyof IngestCounters)[] = ['accepted', 'duplicate', 'rejected'];

/** Running totals of verdicts, per tenant and for the whole service, kept in Redis. */
@Injectable()
export class IngestStats {
  private readonly logger = new Logger(IngestStats.name);

  constructor(private readonly redis: RedisClient) {}

  /** Counts one request's verdicts; never delays or fails the request. */
  record(tenantId: string, c: IngestCounters): void {
    const p = this.redis.pipeline();
    for (const key of [this.redis.key('stats', 'tenant', tenantId), this.redis.key('stats', 'all')]) {
      for (const f of FIELDS) if (c[f]) p.hincrby(key, f, c[f]);
    }
    p.exec().catch((err: Error) => this.logger.warn(`Could not count verdicts: ${err.message}`));
  }

  async read(tenantId: string | null): Promise<IngestCounters> {
    const raw = await this.redis.hgetall(tenantId ? this.redis.key('stats', 'tenant', tenantId) : this.redis.key('stats', 'all'));
    return { accepted: Number(raw.accepted ?? 0), duplicate: Number(raw.duplicate ?? 0), rejected: Number(raw.rejected ?? 0) };
  }
}
