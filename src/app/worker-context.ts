import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AnalyticsConfig } from '../modules/config/analytics-config';
import { Telemetry } from '../modules/observability/telemetry.service';
import { roleTelemetry, TelemetryOverrides } from './telemetry';
import { WorkerModule } from './worker.module';

/** Builds the worker's application context: no HTTP server, no controllers (its probe and metrics port is node:http). */
export async function createWorkerContext(
  config: AnalyticsConfig,
  telemetry: TelemetryOverrides = {},
): Promise<INestApplicationContext> {
  const observability = roleTelemetry(config, 'worker', telemetry);
  const ctx = await NestFactory.createApplicationContext(WorkerModule.forRoot(config, observability), {
    logger: observability.nest,
    abortOnError: false,
  });
  // Consuming: the startup probe may answer.
  ctx.get(Telemetry).started = true;
  // The process's signals are handled by startRole: it stops the job workers before closing the context.
  return ctx;
}
