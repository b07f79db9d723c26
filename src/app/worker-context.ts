import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AnalyticsConfig } from '../modules/config/analytics-config';
import { logLevels } from './start-role';
import { WorkerModule } from './worker.module';

/** Builds the worker's application context: no HTTP server, no controllers. */
export async function createWorkerContext(config: AnalyticsConfig): Promise<INestApplicationContext> {
  const ctx = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), {
    logger: logLevels(config.logLevel),
    abortOnError: false,
  });
  // The process's signals are handled by startRole: it stops the job workers before closing the context.
  return ctx;
}
