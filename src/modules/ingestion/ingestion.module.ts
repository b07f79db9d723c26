import { Module } from '@nestjs/common';
import { PrivacyModule } from '../privacy/privacy.module';
import { SchemaRegistryApiModule } from '../schema-registry/schema-registry-api.module';
import { StorageModule } from '../storage/storage.module';
import { AdmissionStore } from './admission.store';
import { IngestionController } from './ingestion.controller';
import { IngestionService } from './ingestion.service';
import { IngestRoute } from './ingest-route';
import { BacklogGate } from './backlog-gate';
import { IngestStats } from './ingest-stats';

@Module({
  imports: [SchemaRegistryApiModule, PrivacyModule, StorageModule],
  controllers: [IngestionController],
  providers: [IngestionService, IngestRoute, AdmissionStore, IngestStats, BacklogGate],
  exports: [IngestStats, IngestRoute, IngestionService],
})
export class IngestionModule {}
