import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import type { Server } from 'node:http';
import helmet from 'helmet';
import { corsPreflight } from '../modules/auth/cors-preflight.middleware';
import { jsonBody } from '../common/json-body.middleware';
import { otlpBody } from '../modules/otlp/otlp-body.middleware';
import { recordedHeaders } from '../common/raw-http';
import { IngestRoute } from '../modules/ingestion/ingest-route';
import { EventsGateway } from '../modules/ingestion/events.gateway';
import { LiveStream } from '../modules/reporting/live-stream.service';
import { AnalyticsConfig } from '../modules/config/analytics-config';
import { ApiModule } from './api.module';
import { HttpDrain } from './http-drain';
import { HttpTelemetry } from '../modules/observability/http-telemetry';
import { mountSwaggerUi } from './swagger';
import { roleTelemetry, TelemetryOverrides } from './telemetry';

/** Builds the api application (routes, body parsing, Swagger) without listening. */
export async function createApiApp(
  config: AnalyticsConfig,
  telemetry: TelemetryOverrides = {},
): Promise<NestExpressApplication> {
  const observability = roleTelemetry(config, 'api', telemetry);
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.forRoot(config, observability), {
    bodyParser: false,
    logger: observability.nest,
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
  // OTLP bodies (protobuf or JSON, /v1/traces and /v1/logs too) are read by their own reader first.
  app.use(otlpBody(config.otlp.maxPayloadSizeKb));
  app.use(jsonBody(config.ingestion.maxPayloadSizeKb, 'ANALYTICS_MAX_PAYLOAD_KB'));
  if (config.http.swaggerEnabled) mountSwaggerUi(app);
  // The ingestion endpoints are answered in front of Express (see IngestRoute), with helmet's headers.
  app.get(IngestRoute).install(app.getHttpServer(), recordedHeaders(security as never));
  limitSlowClients(app.getHttpServer(), config);
  // Request ids, request logs, HTTP metrics and server spans for both lanes (see HttpTelemetry).
  app.get(HttpTelemetry).install(app.getHttpServer());
  // In front of every route: on shutdown it waits for the requests in flight (see HttpDrain). The
  // process's signals are handled by startRole, which drains before closing the application.
  app.get(HttpDrain).install(app.getHttpServer());
  // WebSocket ingestion on the same port; on shutdown its connections close with 1012 (see EventsGateway).
  const gateway = app.get(EventsGateway);
  gateway.install(app.getHttpServer());
  app.get(HttpDrain).onDrain(() => gateway.drain());
  // Live streams end at shutdown; EventSource reconnects (elsewhere) with its Last-Event-ID.
  const live = app.get(LiveStream);
  app.get(HttpDrain).onDrain(() => Promise.resolve(live.closeAll()));
  return app;
}

/**
 * A client gets ANALYTICS_HTTP_HEADERS_TIMEOUT_MS to send its headers and
 * ANALYTICS_HTTP_REQUEST_TIMEOUT_MS for the whole request; past either Node answers 408 and
 * closes the connection, so a body dripped byte by byte holds no connection for long. Node checks
 * these deadlines on an interval (30 s by default, set before listening): here a tenth of the
 * shorter one, at most a second.
 */
export function limitSlowClients(server: Server, config: AnalyticsConfig): void {
  const { headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs } = config.http;
  server.headersTimeout = Math.min(headersTimeoutMs, requestTimeoutMs);
  server.requestTimeout = requestTimeoutMs;
  server.keepAliveTimeout = keepAliveTimeoutMs;
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.max(
    10,
    Math.min(1000, Math.floor(Math.min(headersTimeoutMs, requestTimeoutMs) / 10)),
  );
}
