import { Module } from '@nestjs/common';
import { EventsRepository } from './events.repository';
import { StorageService } from './storage.service';

/** Raw events, partitions and the dedupe ledger. The worker module adds the processor. */
@Module({
  providers: [EventsRepository, StorageService],
  exports: [StorageService],
})
export class StorageModule {}
