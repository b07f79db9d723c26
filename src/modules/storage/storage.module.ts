import { Module } from '@nestjs/common';
import { AnalyticsConfig } from '../config/analytics-config';
import { RollupRepository } from '../rollups/rollup.repository';
import { ClickHouseEventStore } from './clickhouse-event-store';
import { EventStore } from './event-store';
import { EventsRepository } from './events.repository';
import { PostgresEventStore } from './postgres-event-store';

/**
 * The raw events table, its partitions and the dedupe ledger: the one place with their SQL; and the
 * event store (events, rollups and the reads over them) of the configured backend.
 */
@Module({
  providers: [
    EventsRepository,
    RollupRepository,
    PostgresEventStore,
    ClickHouseEventStore,
    {
      provide: EventStore,
      inject: [AnalyticsConfig, PostgresEventStore, ClickHouseEventStore],
      useFactory: (config: AnalyticsConfig, pg: PostgresEventStore, ch: ClickHouseEventStore) =>
        config.storage.backend === 'clickhouse' ? ch : pg,
    },
  ],
  exports: [EventsRepository, RollupRepository, EventStore],
})
export class StorageModule {}
