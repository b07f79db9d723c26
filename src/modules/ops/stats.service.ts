import { Inject, Injectable } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { QueueName } from '../contracts/jobs';
import { AnalyticsConfig } from '../config/analytics-config';
import { IngestCounters, IngestStats } from '../ingestion/ingest-stats';
import { RollupRepository } from '../rollups/rollup.repository';

export interface ServiceStats {
  tenant_id: string;
  ingestion: IngestCounters;
  service?: {
    uptime_s: number;
    ingestion: IngestCounters;
    queues: Record<string, Record<string, number>>;
    /** Stored events not yet folded into the rollups (the fold's lag). */
    rollups: { enabled: boolean; pending_events: number };
  };
}

@Injectable()
export class StatsService {
  private readonly started = Date.now();

  constructor(
    private readonly counters: IngestStats,
    @InjectQueue(QueueName.Ingest) private readonly ingest: Queue,
    @InjectQueue(QueueName.Maintenance) private readonly maintenance: Queue,
    private readonly rollups: RollupRepository,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
  ) {}

  async read(tenantId: string, withService: boolean): Promise<ServiceStats> {
    const own = await this.counters.read(tenantId);
    if (!withService) return { tenant_id: tenantId, ingestion: own };
    const states = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;
    const [all, ingest, maintenance, pending] = await Promise.all([
      this.counters.read(null),
      this.ingest.getJobCounts(...states),
      this.maintenance.getJobCounts(...states),
      this.rollups.pendingCount(),
    ]);
    return {
      tenant_id: tenantId,
      ingestion: own,
      service: {
        uptime_s: Math.round((Date.now() - this.started) / 1000),
        ingestion: all,
        queues: { ingest, maintenance },
        rollups: { enabled: this.config.rollups.enabled, pending_events: pending },
      },
    };
  }
}
