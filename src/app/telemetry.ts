import { Logger, LoggerService } from '@nestjs/common';
import type { TracerProvider } from '@opentelemetry/api';
import type { Logger as Pino } from 'pino';
import { AnalyticsConfig } from '../modules/config/analytics-config';
import { createRootLogger, nestLogger, Role } from '../modules/observability/log';
import { ObservabilityOptions } from '../modules/observability/observability.module';
import { startTracing } from '../modules/observability/tracing';

/** What a test may put in place of the process's own: a logger writing elsewhere, a tracer provider of its own. */
export interface TelemetryOverrides {
  logger?: Pino;
  tracerProvider?: TracerProvider | null;
}

const roots = new Map<Role, Pino>();

/**
 * The role's logger (one per process and role) and tracer provider (OpenTelemetry's SDK when
 * OTEL_* configure it, else none), and Nest's logger writing through it.
 */
export function roleTelemetry(
  config: AnalyticsConfig,
  role: Role,
  overrides: TelemetryOverrides = {},
): ObservabilityOptions & { nest: LoggerService } {
  let logger = overrides.logger ?? roots.get(role);
  if (!logger) {
    logger = createRootLogger({
      role,
      level: config.logLevel,
      format: config.logFormat,
      ownHosts: [config.http.host, config.telemetry.metricsHost, config.redis.host, hostOf(config.database.url)].filter(
        (h): h is string => Boolean(h),
      ),
    });
    roots.set(role, logger);
  }
  const tracerProvider = overrides.tracerProvider !== undefined ? overrides.tracerProvider : startTracing(role);
  return { role, logger, tracerProvider, nest: nestLogger(logger) };
}

/** From now on, Nest's static logger (start-up lines before the application exists) writes JSON too. */
export function useRoleLogger(config: AnalyticsConfig, role: Role): void {
  Logger.overrideLogger(roleTelemetry(config, role, { tracerProvider: null }).nest);
}

function hostOf(url: string): string | null {
  try {
    return new URL(url).hostname || null;
  } catch {
    return null;
  }
}

/**
 * Waits until this role's log lines written so far have reached stdout (the JSON destination
 * writes asynchronously): a ready report sent after it comes after them.
 */
export function flushRoleLogs(role: Role): Promise<void> {
  const logger = roots.get(role);
  if (!logger) return Promise.resolve();
  return new Promise((resolve) => logger.flush(() => resolve()));
}
