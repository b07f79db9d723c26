import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { RedisClient } from '../../common/redis.provider';

export interface IngestCounters {
  accepted: number;
  duplicate: number;
  dropped: number;
  rejected: number;
  quarantined: number;
}

const FIELDS: (keyof IngestCounters)[] = ['accepted', 'duplicate', 'dropped', 'rejected', 'quarantined'];
const zero = (): IngestCounters => ({ accepted: 0, duplicate: 0, dropped: 0, rejected: 0, quarantined: 0 });
const FLUSH_MS = 1000;

/**
 * Running totals of verdicts, per tenant and for the whole service, kept in Redis. Requests add to
 * in-memory sums that are flushed once a second, so counting costs no round trip per request;
 * /stats may lag by that second.
 */
@Injectable()
export class IngestStats implements OnModuleDestroy {
  private readonly logger = new Logger(IngestStats.name);
  private pending = new Map<string, IngestCounters>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly redis: RedisClient) {
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  record(tenantId: string, c: IngestCounters): void {
    for (const key of [tenantId, '*']) {
      const sum = this.pending.get(key) ?? zero();
      for (const f of FIELDS) sum[f] += c[f];
      this.pending.set(key, sum);
    }
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const p = this.redis.pipeline();
    for (const [tenant, sum] of batch) {
      const key = tenant === '*' ? this.redis.key('stats', 'all') : this.redis.key('stats', 'tenant', tenant);
      for (const f of FIELDS) if (sum[f]) p.hincrby(key, f, sum[f]);
    }
    await p.exec().catch((err: Error) => this.logger.warn(`Could not write verdict counters: ${err.message}`));
  }

  async read(tenantId: string | null): Promise<IngestCounters> {
    const raw = await this.redis.hgetall(
      tenantId ? this.redis.key('stats', 'tenant', tenantId) : this.redis.key('stats', 'all'),
    );
    const counters = zero();
    for (const f of FIELDS) counters[f] = Number(raw[f] ?? 0);
    return counters;
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
