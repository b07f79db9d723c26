import { Module } from '@nestjs/common';
import { TenantsModule } from '../auth/tenants.module';
import { PrivacyModule } from '../privacy/privacy.module';
import { RollupsModule } from '../rollups/rollups.module';
import { SchemaRegistryModule } from '../schema-registry/schema-registry.module';
import { EventsRepository } from './events.repository';
import { QuarantineReplayService } from './quarantine-replay.service';
import { RetentionService } from './retention.service';
import { SubjectDataService } from './subject-data.service';
import { StorageService } from './storage.service';

/** Raw events, partitions, the dedupe ledger and quarantine replays. The worker module adds the processor. */
@Module({
  imports: [SchemaRegistryModule, PrivacyModule, TenantsModule, RollupsModule],
  providers: [EventsRepository, StorageService, QuarantineReplayService, RetentionService, SubjectDataService],
  exports: [
    StorageService,
    QuarantineReplayService,
    RetentionService,
    SubjectDataService,
    EventsRepository,
    SchemaRegistryModule,
    PrivacyModule,
    RollupsModule,
  ],
})
export class StorageModule {}
