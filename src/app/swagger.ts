import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { adminPagesCsp } from '../modules/auth/admin-pages.middleware';

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Analytics service')
    .setDescription(
      'Privacy-safe event ingestion, durable storage and fast reporting for voice and AI UX analytics. ' +
        'Every event is validated and answered with a verdict; every accepted event is stored exactly once. ' +
        'Errors are application/problem+json. ' +
        'WebSocket ingestion (not an HTTP operation, so not listed below): GET /api/v1/analytics/events/ws upgraded with ' +
        'subprotocol analytics.v1 and the ingest key in Authorization (or offered as the subprotocol bearer.<key>); each message ' +
        '{"seq", "event"} or {"seq", "events", "batch_id"?} is answered {"type": "verdicts", "seq", ...IngestSummary}, ' +
        '{"type": "error", "seq", "error": Problem} or {"type": "retry_after", "seq", "retry_after_s", "detail"}; close codes ' +
        '1009 message too large, 1008 rate-limit flood, 1012 restarting, 4001 idle, 4002 no pong (README, Real time).',
    )
    .setVersion('0.1.0')
    .setLicense('MIT', 'https://opensource.org/licenses/MIT')
    .addBearerAuth({
      type: 'http',
      scheme: 'bearer',
      description: 'An API key (ak_…) or a JWT with tenant_id and scope claims',
    })
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-Analytics-Key', description: 'An API key (ak_…)' }, 'api-key')
    .addApiKey(
      {
        type: 'apiKey',
        in: 'query',
        name: 'token',
        description: 'A live stream token (lst_…) from POST /api/v1/analytics/reports/live/token',
      },
      'live-token',
    )
    .addServer('{origin}', 'Where the service runs', {
      origin: {
        default: 'http://127.0.0.1:3000',
        description: 'Scheme, host and port of the api (PORT, 3000 by default)',
      },
    })
    .build();
  for (const [name, description] of TAGS) config.tags!.push({ name, description });
  const doc = SwaggerModule.createDocument(app, config);
  // An open endpoint (@Public) declares `security: []`: no credential at all, not an optional one.
  for (const item of Object.values(doc.paths)) {
    for (const op of [item.get, item.post, item.put, item.patch, item.delete]) {
      if (op?.security?.length === 1 && Object.keys(op.security[0]).length === 0) op.security = [];
    }
  }
  return doc;
}

const TAGS: [string, string][] = [
  ['ingestion', 'Events in: validated, deduplicated, queued and stored exactly once'],
  ['snowplow', 'The Snowplow tracker protocol and an Iglu server, for unchanged Snowplow trackers and resolvers'],
  ['otlp', 'OpenTelemetry in (OTLP/HTTP): spans and log records mapped to events by the table of docs/otlp.md'],
  ['reporting', 'Metrics over time, summaries, funnels, the turn-latency waterfall, costs and conversations'],
  ['schemas', "Tenants' event schemas (SchemaVer, Iglu) and the quarantine of events that failed them"],
  ['privacy', 'Erasure and export of a data subject'],
  ['costs', 'Price books per model or provider and unit, and re-pricing stored usage under them'],
  ['ops', 'Service statistics for operators'],
  ['health', 'Liveness, readiness and dependency health; no credential'],
];

/** Swagger UI at /api/docs, its assets served by the service and no request made outside it. */
export function mountSwaggerUi(app: INestApplication): void {
  app.use('/api/docs', adminPagesCsp);
  SwaggerModule.setup('api/docs', app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: 'api/docs/openapi.json',
    yamlDocumentUrl: 'api/docs/openapi.yaml',
    // The validator badge would load an image from validator.swagger.io.
    swaggerOptions: { validatorUrl: 'none' },
  });
}
