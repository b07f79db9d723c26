import { Module } from '@nestjs/common';
import { TenantsModule } from '../auth/tenants.module';
import { CostsModule } from '../costs/costs.module';
import { RollupFoldModule } from '../rollups/rollup-fold.module';
import { RollupsModule } from '../rollups/rollups.module';
import { SchemaRegistryModule } from '../schema-registry/schema-registry.module';
import { ApplyRetentionJob } from './apply-retention.job';
import { EnsurePartitionsJob } from './ensure-partitions.job';
import { PersistEventsJob } from './persist-events.job';
import { QuarantineReplayService } from './quarantine-replay.service';
import { RefusedEventJob } from './refused-event.job';
import { ReplayQuarantineJob } from './replay-quarantine.job';
import { RetentionService } from './retention.service';
import { StorageModule } from './storage.module';
import { StorageService } from './storage.service';

/** The worker's storage work: persisting jobs (and the events Postgres refused), partitions ahead of time, retention, quarantine replays. */
@Module({
  imports: [StorageModule, SchemaRegistryModule, TenantsModule, RollupsModule, RollupFoldModule, CostsModule],
  providers: [
    StorageService,
    QuarantineReplayService,
    RetentionService,
    PersistEventsJob,
    RefusedEventJob,
    EnsurePartitionsJob,
    ApplyRetentionJob,
    ReplayQuarantineJob,
  ],
})
export class StorageWorkerModule {}
