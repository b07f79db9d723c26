import { Inject, Injectable, Logger } from '@nestjs/common';
import { StoredEvent } from '../contracts/stored-event';
import { AnalyticsConfig } from '../config/analytics-config';
import { Telemetry } from '../observability/telemetry.service';
import { RollupService } from '../rollups/rollup.service';
import { EventStore } from './event-store';
import { PersistOutcome } from './events.repository';
import { daysFrom, utcDay } from './partition-days';
import { classifyStorageError, NO_PARTITION, sqlState } from './storage-errors';

/** An event Postgres refused to store, with the reason, in the shape of a validation error. */
export interface RefusedEvent {
  event: StoredEvent;
  error: { pointer: ''; keyword: 'storage'; message: string };
}

/** What a job's events came to: stored, already stored before (or repeated in the job), refused. */
export interface PersistResult extends PersistOutcome {
  refused: RefusedEvent[];
}

@Injectable()
export class StorageService {
  private readonly logger = new Logger(StorageService.name);
  private readonly knownPartitions = new Set<string>();

  constructor(
    private readonly events: EventStore,
    private readonly rollups: RollupService,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
    private readonly telemetry: Telemetry,
  ) {
    // Days after today that have their partition, read at each scrape.
    telemetry.onScrape(async () => {
      const today = utcDay(new Date().toISOString());
      const days = await this.events.listPartitionDays();
      telemetry.metrics.partitionsAhead.set(days.filter((d) => d > today).length);
    });
  }

  /**
   * Persists one job's events in ONE statement, atomic on its own (no BEGIN and COMMIT round trips
   * around it): ledger, raw rows for the fresh ones, and (with rollups on) the same fresh events in
   * the rollups' pending table, which the rollup folder folds soon after. A transient failure
   * (connection, deadlock, a partition dropped meanwhile, ...) is thrown: the queue retries the
   * whole job, which then changes nothing twice.
   *
   * When Postgres refuses the data itself (see classifyStorageError), a retry would fail the same
   * way and hold back every event of the job, whichever tenant sent it: the events are split in
   * halves, each half stored by the same ledger statement, until the events at fault stand alone.
   * They are answered as `refused`, with Postgres's reason; every other event is stored once.
   * An event whose day cannot be placed in a partition is refused before any statement.
   */
  async persist(events: StoredEvent[]): Promise<PersistResult> {
    const unique = uniqueByEvent(events);
    const refused: RefusedEvent[] = [];
    const { placed, partitionsFresh } = await this.placeInPartitions(unique, refused);
    const inserted = placed.length ? await this.insertIsolating(placed, partitionsFresh, refused) : 0;
    if (refused.length) {
      const codes = [...new Set(refused.map((r) => /SQLSTATE (\w+)/.exec(r.error.message)?.[1] ?? 'partition'))];
      this.logger.warn(
        `Postgres refused ${refused.length} of ${unique.length} event(s) of a job (${codes.join(', ')}); the ${inserted} fresh other(s) were stored`,
      );
    }
    return { inserted, duplicates: events.length - inserted - refused.length, refused };
  }

  /**
   * Bisects on a data error: one bad event among N costs about 1 + 2·log2(N) statements (each level
   * stores its good half and splits the bad one). The halves are stored in order, so the split is
   * the same on every attempt; what a half stored before a crash is a duplicate on the retry.
   */
  private async insertIsolating(
    events: StoredEvent[],
    partitionsFresh: boolean,
    refused: RefusedEvent[],
  ): Promise<number> {
    try {
      return await this.insert(events);
    } catch (err) {
      if (classifyStorageError(err, { partitionsFresh }) === 'retry') throw err;
      if (events.length === 1) {
        refused.push(refusal(events[0], `${(err as Error).message} (SQLSTATE ${sqlState(err)})`));
        return 0;
      }
      const mid = Math.ceil(events.length / 2);
      const first = await this.insertIsolating(events.slice(0, mid), partitionsFresh, refused);
      return first + (await this.insertIsolating(events.slice(mid), partitionsFresh, refused));
    }
  }

  private async insert(events: StoredEvent[]): Promise<number> {
    try {
      return await this.telemetry.span('storage.persist', async (span) => {
        span?.setAttribute('analytics.events', events.length);
        return this.events.insertFresh(events, { foldLater: this.rollups.enabled });
      });
    } catch (err) {
      if (sqlState(err) === NO_PARTITION) this.knownPartitions.clear();
      throw err;
    }
  }

  /**
   * Ensures the partitions of the events' days. An event whose occurred_at has no day (it only
   * comes from a job that did not pass validation), or whose day Postgres refuses as a date, is
   * refused here. `partitionsFresh`: the list of partitions was read in this call.
   */
  private async placeInPartitions(
    events: StoredEvent[],
    refused: RefusedEvent[],
  ): Promise<{ placed: StoredEvent[]; partitionsFresh: boolean }> {
    const daysOf = new Map<StoredEvent, string[]>();
    for (const e of events) {
      const days = eventDays(e.occurred_at);
      if (days) daysOf.set(e, days);
      else
        refused.push(
          refusal(
            e,
            `occurred_at ${JSON.stringify(e.occurred_at)} is not a date-time the worker can place in a partition`,
          ),
        );
    }
    const { refusedDays, fresh } = await this.ensurePartitionsFor([...daysOf.values()].flat());
    const placed: StoredEvent[] = [];
    for (const [e, days] of daysOf) {
      const why = days.map((d) => refusedDays.get(d)).find((m) => m !== undefined);
      if (why) refused.push(refusal(e, why));
      else placed.push(e);
    }
    return { placed, partitionsFresh: fresh };
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

  /** Days Postgres refuses as a date are answered with its reason instead of being created. */
  private async ensurePartitionsFor(
    days: string[],
    refresh = false,
  ): Promise<{ refusedDays: Map<string, string>; fresh: boolean }> {
    const fresh = refresh || this.knownPartitions.size === 0;
    if (fresh) {
      const existing = await this.events.listPartitionDays();
      this.knownPartitions.clear(); // partitions may have been dropped since (retention, an operator)
      for (const d of existing) this.knownPartitions.add(d);
    }
    const refusedDays = new Map<string, string>();
    for (const day of new Set(days)) {
      if (this.knownPartitions.has(day)) continue;
      try {
        await this.events.ensurePartition(day);
      } catch (err) {
        if (classifyStorageError(err, { partitionsFresh: false }) === 'retry') throw err;
        refusedDays.set(day, `${(err as Error).message} (SQLSTATE ${sqlState(err)})`);
        continue;
      }
      this.knownPartitions.add(day);
      this.logger.log(`Partition ready for ${day}`);
    }
    return { refusedDays, fresh };
  }
}

function refusal(event: StoredEvent, message: string): RefusedEvent {
  return { event, error: { pointer: '', keyword: 'storage', message } };
}

/**
 * The partition days an occurred_at needs: its UTC day, and the next one when it has more than
 * microsecond precision (Postgres rounds it, possibly across midnight). Null without a day.
 */
export function eventDays(occurredAt: unknown): string[] | null {
  if (typeof occurredAt !== 'string') return null;
  const t = Date.parse(occurredAt);
  if (Number.isNaN(t)) return null;
  const day = utcDay(occurredAt);
  return /\.\d{7}/.test(occurredAt) ? [...new Set([day, utcDay(t + 1)])] : [day];
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
