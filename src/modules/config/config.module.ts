import { DynamicModule, Global, Module } from '@nestjs/common';
import { AnalyticsConfig } from './analytics-config';

@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: AnalyticsConfig): DynamicModule {
    return {
      module: ConfigModule,
      providers: [{ provide: AnalyticsConfig, useValue: config }],
      exports: [AnalyticsConfig],
    };
  }
}
