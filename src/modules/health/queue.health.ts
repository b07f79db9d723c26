import { Inject, Injectable } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { HealthIndicatorService } from '@nestjs/terminus';
import { Queue } from 'bullmq';
import { QueueName } from '../contracts/jobs';
import { AnalyticsConfig } from '../config/analytics-config';
import { withDeadline } from './deadline';

/** The ingest queue's backlog: down when Redis cannot say, or when more jobs wait than configured. */
@Injectable()
export class QueueHealthIndicator {
  constructor(
    @InjectQueue(QueueName.Ingest) private readonly queue: Queue,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
    private readonly indicator: HealthIndicatorService,
  ) {}

  async isHealthy(key = 'ingest_queue', timeoutMs = 1500) {
    const check = this.indicator.check(key);
    const limit = this.config.ingestion.maxQueueBacklog;
    try {
      const counts = await withDeadline(
        this.queue.getJobCounts('waiting', 'delayed', 'prioritized', 'active', 'failed'),
        timeoutMs,
      );
      const backlog = (counts.waiting ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0);
      const data = { backlog, limit, active: counts.active ?? 0, failed: counts.failed ?? 0 };
      return backlog > limit
        ? check.down({ ...data, message: `backlog of ${backlog} jobs exceeds ANALYTICS_MAX_QUEUE_BACKLOG (${limit})` })
        : check.up(data);
    } catch (err) {
      return check.down({ message: (err as Error).message, limit });
    }
  }
}
