import { DynamicModule, Global, Inject, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { otlpBody } from '../modules/otlp/otlp-body.middleware';
import { jsonBody } from '../common/json-body.middleware';
import { HOSTED } from '../modules/auth/auth.guard';
import { AnalyticsConfig } from '../modules/config/analytics-config';
import { AnalyticsOptions, configFromOptions } from '../modules/config/analytics-options';
import { ApiModule } from './api.module';
import { roleTelemetry } from './telemetry';
import { WorkerModule } from './worker.module';

/**
 * The service's modules for a host NestJS application, configured by the brief's options over the
 * environment (configFromOptions):
 *
 *   @Module({ imports: [AnalyticsModule.forRoot({ ingestion: { maxBatchSize: 200 } })] })
 *
 * mounts the api role's routes (/api/v1/analytics/...) with their own credentials, validation and
 * problem+json errors; the host's routes keep the host's guards. `forWorker` gives the worker role
 * (the jobs that store events, fold rollups and erase subjects), which must run somewhere: in the
 * same application or, better, in a process of its own.
 */
@Global()
@Module({})
export class AnalyticsModule implements NestModule {
  constructor(@Inject(AnalyticsConfig) private readonly config: AnalyticsConfig) {}

  static forRoot(options: AnalyticsOptions = {}, env: Record<string, string | undefined> = process.env): DynamicModule {
    const config = configFromOptions(options, env);
    return {
      module: AnalyticsModule,
      imports: [ApiModule.forRoot(config, roleTelemetry(config, 'api'))],
      providers: [{ provide: HOSTED, useValue: true }],
      exports: [HOSTED],
    };
  }

  static forWorker(
    options: AnalyticsOptions = {},
    env: Record<string, string | undefined> = process.env,
  ): DynamicModule {
    const config = configFromOptions(options, env);
    return { module: AnalyticsWorkerHost, imports: [WorkerModule.forRoot(config, roleTelemetry(config, 'worker'))] };
  }

  /**
   * The service's routes read their JSON bodies with its own reader and limits
   * (ANALYTICS_MAX_PAYLOAD_KB), unless the host's body parser has read them already.
   */
  configure(consumer: MiddlewareConsumer): void {
    const read = jsonBody(this.config.ingestion.maxPayloadSizeKb, 'ingestion.maxPayloadSizeKb');
    consumer.apply(otlpBody(this.config.otlp.maxPayloadSizeKb, false)).forRoutes('api/v1/analytics/otlp/*path');
    consumer
      .apply((req: Request, res: Response, next: NextFunction) => (req.readableEnded ? next() : read(req, res, next)))
      .forRoutes('api/v1/analytics/*path');
  }
}

@Module({})
class AnalyticsWorkerHost {}
