import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import helmet from 'helmet';
import { corsPreflight } from '../modules/auth/cors-preflight.middleware';
import { jsonBody } from '../common/json-body.middleware';
import { recordedHeaders } from '../common/raw-http';
import { IngestRoute } from '../modules/ingestion/ingest-route';
import { AnalyticsConfig } from '../modules/config/analytics-config';
import { ApiModule } from './api.module';
import { logLevels } from './start-role';
import { mountSwaggerUi } from './swagger';

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
  // No CSP here: the JSON API needs none; Swagger UI and Bull Board set their own (ADMIN_PAGES_CSP).
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
