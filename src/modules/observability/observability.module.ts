import { DynamicModule, Global, Module } from '@nestjs/common';
import type { TracerProvider } from '@opentelemetry/api';
import type { Logger as Pino } from 'pino';
import type { Role } from './log';
import { MetricsPort } from './metrics-port';
import { ROOT_LOGGER } from './observability.tokens';
import { Telemetry, TELEMETRY_OPTIONS, TelemetryOptions } from './telemetry.service';

export interface ObservabilityOptions {
  role: Role;
  logger: Pino;
  tracerProvider: TracerProvider | null;
}

/**
 * Metrics, logs and traces of one role (see Telemetry), and the role's own port (MetricsPort).
 * The api adds the request observer in front of both HTTP lanes (HttpTelemetry) and the report
 * timings (ReportTelemetryInterceptor) itself: the worker's graph holds no HTTP code.
 */
@Global()
@Module({})
export class ObservabilityModule {
  static forRole(opts: ObservabilityOptions): DynamicModule {
    const options: TelemetryOptions = { role: opts.role, tracerProvider: opts.tracerProvider };
    return {
      module: ObservabilityModule,
      providers: [
        { provide: TELEMETRY_OPTIONS, useValue: options },
        { provide: ROOT_LOGGER, useValue: opts.logger },
        Telemetry,
        MetricsPort,
      ],
      exports: [Telemetry, MetricsPort, ROOT_LOGGER],
    };
  }
}
