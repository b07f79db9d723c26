import { Module } from '@nestjs/common';
import { SchemaRegistryModule } from '../schema-registry/schema-registry.module';
import { EventsRepository } from './events.repository';
import { QuarantineReplayService } from './quarantine-replay.service';
import { StorageService } from './storage.service';

/** Raw events, partitions, the dedupe ledger and quarantine replays. The worker module adds the processor. */
@Module({
  imports: [SchemaRegistryModule],
  providers: [EventsRepository, StorageService, QuarantineReplayService],
  exports: [StorageService, QuarantineReplayService, SchemaRegistryModule],
})
export class StorageModule {}
