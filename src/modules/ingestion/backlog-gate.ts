import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { QueueName } from '../contracts/jobs';
import { AnalyticsConfig } from '../config/analytics-config';
import { Telemetry } from '../observability/telemetry.service';

const REFRESH_MS = 250;

/**
 * Sheds load when the workers fall behind: above ANALYTICS_MAX_QUEUE_BACKLOG waiting jobs, new
 * events are answered 503 with Retry-After instead of piling up in Redis memory, and they are
 * accepted again by themselves once the backlog drains. The count is refreshed in the background
 * every 250 ms, so the check costs a request nothing.
 */
@Injectable()
export class BacklogGate implements OnModuleDestroy {
  private readonly logger = new Logger(BacklogGate.name);
  private backlog = 0;
  private readonly timer: NodeJS.Timeout;
  private refreshing = false;

  constructor(
    @InjectQueue(QueueName.Ingest) private readonly queue: Queue,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
    private readonly telemetry: Telemetry,
  ) {
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
    this.timer.unref();
  }

  private async refresh(): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    try {
      const c = await this.queue.getJobCounts('waiting', 'delayed', 'prioritized');
      const backlog = (c.waiting ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0);
      const limit = this.config.ingestion.maxQueueBacklog;
      if (backlog > limit && this.backlog <= limit)
        this.logger.warn(`Backlog ${backlog} jobs exceeds ${limit}: ingestion answers 503 until it drains`);
      if (backlog <= limit && this.backlog > limit) this.logger.log(`Backlog ${backlog} jobs: ingestion accepts again`);
      this.backlog = backlog;
      this.telemetry.metrics.backlog.set(backlog);
    } catch {
      // Redis unreachable: enqueueing will fail on its own and answer 503.
    } finally {
      this.refreshing = false;
    }
  }

  /** Seconds a client should wait, when the backlog is over its limit; null when open. */
  retryAfter(): number | null {
    return this.backlog > this.config.ingestion.maxQueueBacklog ? 2 : null;
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }
}
