import { Module } from '@nestjs/common';
import { RollupRepository } from '../rollups/rollup.repository';
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
    { provide: EventStore, useExisting: PostgresEventStore },
  ],
  exports: [EventsRepository, RollupRepository, EventStore],
})
export class StorageModule {}
