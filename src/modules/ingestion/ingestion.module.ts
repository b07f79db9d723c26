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
import { TRACKER_CLOCK, TrackerController } from './tracker.controller';
import { systemClock } from '../../common/clock';
import { EventsGateway } from './events.gateway';

@Module({
  imports: [SchemaRegistryApiModule, PrivacyModule, StorageModule],
  controllers: [IngestionController, TrackerController],
  providers: [
    IngestionService,
    IngestRoute,
    EventsGateway,
    AdmissionStore,
    IngestStats,
    BacklogGate,
    { provide: TRACKER_CLOCK, useFactory: systemClock },
  ],
  exports: [IngestStats, IngestRoute, EventsGateway, IngestionService],
})
export class IngestionModule {}
