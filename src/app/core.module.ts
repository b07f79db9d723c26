import { DynamicModule, Global, Module } from '@nestjs/common';
import { BullModule } from '@nestjs/bullmq';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ConfigModule } from '../modules/config/config.module';
import { AnalyticsConfig } from '../modules/config/analytics-config';
import { dataSourceOptions } from '../database/data-source';
import { PostgresBreaker } from '../database/postgres-breaker';
import { SafeTypeOrmLogger } from '../database/safe-typeorm.logger';
import { queuePrefix, RedisClient, redisOptions } from '../common/redis.provider';

/** Config, the Postgres data source, BullMQ's root connection and the Redis client. */
@Global()
@Module({})
export class CoreModule {
  static forRoot(config: AnalyticsConfig): DynamicModule {
    return {
      module: CoreModule,
      imports: [
        ConfigModule.forRoot(config),
        TypeOrmModule.forRoot({
          ...dataSourceOptions(config.database.url),
          retryAttempts: 0,
          logging: true,
          logger: new SafeTypeOrmLogger(config.debug),
          maxQueryExecutionTime: 5000,
        }),
        BullModule.forRoot({
          connection: redisOptions(config, false),
          prefix: queuePrefix(config),
        }),
      ],
      providers: [RedisClient, PostgresBreaker],
      exports: [RedisClient, PostgresBreaker],
    };
  }
}
