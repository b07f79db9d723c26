import { DynamicModule, Module } from '@nestjs/common';
import { AnalyticsConfig } from '../modules/config/analytics-config';
import { StorageModule } from '../modules/storage/storage.module';
import { StorageProcessor } from '../modules/storage/storage.processor';
import { CoreModule } from './core.module';
import { QueuesModule } from './queues.module';

/** The worker role: consumes the queues, persists events, runs maintenance. No HTTP routes. */
@Module({})
export class WorkerModule {
  static forRoot(config: AnalyticsConfig): DynamicModule {
    return {
      module: WorkerModule,
      imports: [CoreModule.forRoot(config), QueuesModule, StorageModule],
      providers: [StorageProcessor],
    };
  }
}
