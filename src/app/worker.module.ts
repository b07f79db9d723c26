import { DynamicModule, Module } from '@nestjs/common';
import { AnalyticsConfig } from '../modules/config/analytics-config';
import { JobsModule } from '../modules/jobs/jobs.module';
import { PrivacyWorkerModule } from '../modules/privacy/privacy-worker.module';
import { SchemaRegistryWorkerModule } from '../modules/schema-registry/schema-registry-worker.module';
import { StorageWorkerModule } from '../modules/storage/storage-worker.module';
import { ObservabilityModule, ObservabilityOptions } from '../modules/observability/observability.module';
import { CoreModule } from './core.module';
import { QueuesModule } from './queues.module';

/** The worker role: consumes the queues, persists events, runs maintenance. No controllers, no HTTP middleware. */
@Module({})
export class WorkerModule {
  static forRoot(config: AnalyticsConfig, observability: ObservabilityOptions): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        CoreModule.forRoot(config),
        ObservabilityModule.forRole(observability),
        QueuesModule,
        JobsModule,
        StorageWorkerModule,
        SchemaRegistryWorkerModule,
        PrivacyWorkerModule,
      ],
    };
  }
}
