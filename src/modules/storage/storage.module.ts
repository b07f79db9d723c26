import { Module } from '@nestjs/common';
import { EventsRepository } from './events.repository';

/** The raw events table, its partitions and the dedupe ledger: the one place with their SQL. */
@Module({
  providers: [EventsRepository],
  exports: [EventsRepository],
})
export class StorageModule {}
