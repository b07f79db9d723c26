import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { renderOpenApiYaml } from '../src/app/openapi-document';
import { BATCH, makeEvent } from './support/events';
import { drained } from './support/queue';
import { TestEnv, createTestEnv } from './support/test-env';

describe('OpenAPI, Swagger UI and Bull Board', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv();
  });
  afterAll(async () => {
    await t.close();
  });

  it('the committed openapi.yaml is exactly what the code generates (run `npm run openapi` after changing a controller)', async () => {
    const committed = readFileSync(join(__dirname, '..', 'openapi.yaml'), 'utf8');
    expect(await renderOpenApiYaml()).toBe(committed);
  });

  it('documents every endpoint with its request, its responses including errors, and an example', () => {
    const doc = load(readFileSync(join(__dirname, '..', 'openapi.yaml'), 'utf8')) as any;
    const ops = Object.entries(doc.paths).flatMap(([path, item]: [string, any]) =>
      Object.entries(item).map(([method, op]) => ({ path, method, op: op as any })),
    );
    expect(ops.map((o) => `${o.method.toUpperCase()} ${o.path}`).sort()).toEqual([
      'GET /api/schemas',
      'GET /api/schemas/{vendor}/{name}/{format}/{version}',
      'GET /api/v1/analytics/events/health',
      'GET /api/v1/analytics/health',
      'GET /api/v1/analytics/health/live',
      'GET /api/v1/analytics/health/ready',
      'GET /api/v1/analytics/price-books',
      'GET /api/v1/analytics/quarantine',
      'GET /api/v1/analytics/quarantine/replays/{id}',
      'GET /api/v1/analytics/reports/conversations/{id}',
      'GET /api/v1/analytics/reports/live',
      'GET /api/v1/analytics/reports/metrics',
      'GET /api/v1/analytics/schemas',
      'GET /api/v1/analytics/schemas/version',
      'GET /api/v1/analytics/stats',
      'GET /api/v1/analytics/subjects/erasure/{id}',
      'GET /api/v1/analytics/subjects/export',
      'GET /i',
      'GET /t/{key}/i',
      'POST /api/v1/analytics/events',
      'POST /api/v1/analytics/events/batch',
      'POST /api/v1/analytics/otlp/v1/logs',
      'POST /api/v1/analytics/otlp/v1/traces',
      'POST /api/v1/analytics/price-books',
      'POST /api/v1/analytics/price-books/reprice',
      'POST /api/v1/analytics/quarantine/replay',
      'POST /api/v1/analytics/reports/cost',
      'POST /api/v1/analytics/reports/funnel',
      'POST /api/v1/analytics/reports/live/token',
      'POST /api/v1/analytics/reports/summary',
      'POST /api/v1/analytics/reports/timeseries',
      'POST /api/v1/analytics/reports/waterfall',
      'POST /api/v1/analytics/schemas',
      'POST /api/v1/analytics/subjects/erasure',
      'POST /com.snowplowanalytics.snowplow/tp2',
      'POST /t/{key}/com.snowplowanalytics.snowplow/tp2',
    ]);
    for (const { path, method, op } of ops) {
      expect([path, op.summary]).toEqual([path, expect.any(String)]);
      if (path.startsWith('/api/v1/analytics/events') && method === 'post') {
        expect(op.requestBody.content['application/json'].schema.$ref).toMatch(/EventDto|BatchDto/);
        for (const status of ['202', '400', '401', '403', '413', '415', '429', '503'])
          expect([path, status, op.responses[status]]).toEqual([path, status, expect.anything()]);
        expect(op.security).toEqual(expect.arrayContaining([{ bearer: [] }, { 'api-key': [] }]));
      }
    }
    expect(doc.components.schemas.EventDto.properties.event_id.example).toMatch(/^[0-9a-f-]{36}$/);
    expect(doc.components.schemas.EventDto.required).toEqual(
      expect.arrayContaining(['event_id', 'event_name', 'occurred_at', 'tenant_id', 'source', 'attributes']),
    );
  });

  it('serves Swagger UI at /api/docs and the live document beside it', async () => {
    const ui = await t.get('/api/docs');
    expect(ui.status).toBe(200);
    expect(ui.text).toMatch(/swagger-ui/i);
    const json = await t.get('/api/docs/openapi.json');
    expect(Object.keys(json.json.paths)).toContain('/api/v1/analytics/events/batch');
  });

  it('shows the ingest queue with its completed jobs in Bull Board', async () => {
    await t.post(BATCH, { events: [makeEvent(), makeEvent()] });
    await drained(t.ingestQueue);
    const page = await t.get('/admin/queues', t.operator.admin);
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/<html/i);
    const api = await t.get('/admin/queues/api/queues?activeQueue=ingest&status=completed', t.operator.admin);
    const ingest = api.json.queues.find((q: { name: string }) => q.name === 'ingest');
    expect(ingest.counts.completed).toBe(1); // the one batch this file sends
    expect(ingest.jobs[0]).toMatchObject({ name: 'persist-events', returnValue: { inserted: 2, duplicates: 0 } });
    expect(api.json.queues.map((q: { name: string }) => q.name).sort()).toEqual(['ingest', 'maintenance']);
  });
});
