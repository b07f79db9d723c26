import { Module } from '@nestjs/common';
import { QuarantineEventsJob } from './quarantine-events.job';
import { SchemaRegistryModule } from './schema-registry.module';

/** The worker's side: storing quarantined events. */
@Module({
  imports: [SchemaRegistryModule],
  providers: [QuarantineEventsJob],
})
export class SchemaRegistryWorkerModule {}
