import { INestApplicationContext, Logger, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import helmet from 'helmet';
import { corsPreflight } from '../modules/auth/cors-preflight.middleware';
import { jsonBody } from '../common/json-body.middleware';
import { recordedHeaders } from '../common/raw-http';
import { IngestRoute } from '../modules/ingestion/ingest-route';
import { prepareDatabase } from '../database/database-preparation';
import { AnalyticsConfig } from '../modules/config/analytics-config';
import { ConfigError } from '../modules/config/environment';
import { ApiModule } from './api.module';
import { PreflightError, checkDependencies } from './preflight';
import { mountSwaggerUi } from './swagger';
import { WorkerModule } from './worker.module';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];
export function logLevels(level: string): LogLevel[] {
  return LEVELS.slice(0, LEVELS.indexOf(level as LogLevel) + 1);
}

/** Builds the api application (routes, body parsing, Swagger) without listening. */
export async function createApiApp(config: AnalyticsConfig): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.forRoot(config), {
    bodyParser: false,
    logger: logLevels(config.logLevel),
    abortOnError: false,
  });
  app.disable('x-powered-by');
  // No ETag: Express would hash every answer for it, and no answer of this API is cached conditionally.
  app.set('etag', false);
  app.set('trust proxy', true);
  // CSP off: the JSON API needs none, and Swagger UI and Bull Board run inline scripts.
  const security = helmet({ contentSecurityPolicy: false, crossOriginEmbedderPolicy: false });
  app.use(security);
  app.use(corsPreflight);
  app.use(jsonBody(config.ingestion.maxPayloadSizeKb, 'ANALYTICS_MAX_PAYLOAD_KB'));
  if (config.http.swaggerEnabled) mountSwaggerUi(app);
  // The ingestion endpoints are answered in front of Express (see IngestRoute), with helmet's headers.
  app.get(IngestRoute).install(app.getHttpServer(), recordedHeaders(security as never));
  app.enableShutdownHooks();
  return app;
}

export async function createWorkerContext(config: AnalyticsConfig): Promise<INestApplicationContext> {
  const ctx = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), {
    logger: logLevels(config.logLevel),
    abortOnError: false,
  });
  ctx.enableShutdownHooks();
  return ctx;
}

/**
 * Shared start-up of both roles: validated config, reachable dependencies, prepared database.
 * Any failure ends the process with one line naming the variable or the address.
 */
export async function startRole<T>(role: 'api' | 'worker', start: (config: AnalyticsConfig) => Promise<T>): Promise<T> {
  const logger = new Logger(role === 'api' ? 'Api' : 'Worker');
  try {
    const config = AnalyticsConfig.fromEnvironment(process.env);
    await checkDependencies(config);
    await prepareDatabase(config, (line) => logger.log(line));
    return await start(config);
  } catch (err) {
    const known = err instanceof ConfigError || err instanceof PreflightError;
    process.stderr.write(
      `${role}: ${known ? (err as Error).message : `start-up failed: ${(err as Error)?.stack ?? String(err)}`}\n`,
    );
    process.exit(1);
  }
}
