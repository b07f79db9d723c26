import { Inject, Injectable, Logger } from '@nestjs/common';
import { StoredEvent } from '../contracts/stored-event';
import { AnalyticsConfig } from '../config/analytics-config';
import { RollupService } from '../rollups/rollup.service';
import { EventsRepository, PersistOutcome } from './events.repository';
import { daysFrom, utcDay } from './partition-days';

/** Postgres error raised when a row has no partition (for instance one was dropped meanwhile). */
const NO_PARTITION = '23514';

@Injectable()
export class StorageService {
  private readonly logger = new Logger(StorageService.name);
  private readonly knownPartitions = new Set<string>();

  constructor(
    private readonly events: EventsRepository,
    private readonly rollups: RollupService,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
  ) {}

  /**
   * Persists one job's events in ONE statement, atomic on its own (no BEGIN and COMMIT round trips
   * around it): ledger, raw rows for the fresh ones, and (with rollups on) the same fresh events in
   * the rollups' pending table, which the rollup folder folds soon after. Anything thrown makes the
   * queue retry the whole job, which then changes nothing twice.
   */
  async persist(events: StoredEvent[]): Promise<PersistOutcome> {
    const unique = uniqueByEvent(events);
    await this.ensurePartitionsFor(unique.map((e) => utcDay(e.occurred_at)));
    try {
      const inserted = await this.events.insertFresh(unique, { foldLater: this.rollups.enabled });
      return { inserted, duplicates: events.length - inserted };
    } catch (err) {
      if ((err as { code?: string }).code === NO_PARTITION) this.knownPartitions.clear();
      throw err;
    }
  }

  /** Forgets what it knew of partitions (after some were dropped). */
  forgetPartitions(): void {
    this.knownPartitions.clear();
  }

  /** Creates today's partition and the configured number of days ahead. */
  async ensureUpcomingPartitions(now = new Date()): Promise<string[]> {
    const days = daysFrom(now, this.config.worker.partitionDaysAhead + 1);
    await this.ensurePartitionsFor(days, true);
    return days;
  }

  private async ensurePartitionsFor(days: string[], refresh = false): Promise<void> {
    if (refresh || this.knownPartitions.size === 0) {
      const existing = await this.events.listPartitionDays();
      this.knownPartitions.clear(); // partitions may have been dropped since (retention, an operator)
      for (const d of existing) this.knownPartitions.add(d);
    }
    for (const day of new Set(days)) {
      if (this.knownPartitions.has(day)) continue;
      await this.events.ensurePartition(day);
      this.knownPartitions.add(day);
      this.logger.log(`Partition ready for ${day}`);
    }
  }
}

/** Keeps the first occurrence of each (tenant_id, event_id) pair. */
export function uniqueByEvent(events: StoredEvent[]): StoredEvent[] {
  const seen = new Set<string>();
  return events.filter((e) => {
    const k = `${e.tenant_id}/${e.event_id}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
