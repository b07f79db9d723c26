import { Global, Module } from '@nestjs/common';
import { BullModule } from '@nestjs/bullmq';
import { AnalyticsConfig } from '../modules/config/analytics-config';
import { QueueName } from '../modules/contracts/jobs';
import { queuePrefix, redisOptions } from '../common/redis.provider';

const producer = (name: QueueName) =>
  BullModule.registerQueueAsync({
    name,
    inject: [AnalyticsConfig],
    useFactory: (config: AnalyticsConfig) => ({
      // Producers fail fast while Redis is down, so ingestion answers 503 instead of hanging.
      connection: redisOptions(config, true),
      prefix: queuePrefix(config),
      defaultJobOptions: {
        attempts: config.worker.jobAttempts,
        backoff: { type: 'exponential', delay: config.worker.jobBackoffMs },
        removeOnComplete: { count: 1000, age: 24 * 3600 },
        removeOnFail: false,
      },
    }),
  });

/** The queues, registered once for both roles: the api adds jobs, the worker consumes them. */
@Global()
@Module({
  imports: [producer(QueueName.Ingest), producer(QueueName.Maintenance)],
  exports: [BullModule],
})
export class QueuesModule {}
