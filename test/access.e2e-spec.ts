import { generateApiKey } from '../src/modules/auth/api-key';
import { expireCredentialCache, pinClock } from './support/clock';
import { IngestStats } from '../src/modules/ingestion/ingest-stats';
import { BATCH, EVENTS, TENANT, makeEvent } from './support/events';
import { seedTenant } from './support/tenants';
import { TestEnv, createTestEnv, request } from './support/test-env';

type Credential = 'no key' | 'unknown key' | 'revoked key' | "other tenant's key" | 'wrong scope' | 'right key';
const COLUMNS: Credential[] = [
  'no key',
  'unknown key',
  'revoked key',
  "other tenant's key",
  'wrong scope',
  'right key',
];

describe('access matrix: every endpoint × every kind of credential', () => {
  let t: TestEnv;
  let revoked: { ingest: string; report: string; admin: string };
  beforeAll(async () => {
    t = await createTestEnv({}, { worker: false });
    revoked = await seedTenant(t.db, 'dddddddd-0000-4000-8000-00000000000d', { name: 'revoked', operator: true });
    await t.db.query(
      `UPDATE analytics_api_keys SET revoked_at = now() WHERE tenant_id = 'dddddddd-0000-4000-8000-00000000000d'`,
    );
  });
  afterAll(async () => {
    await t.close();
  });

  // For each endpoint: how to call it, and which key plays each column.
  const endpoints = () => {
    const unknown = generateApiKey().key;
    const ev = () => makeEvent();
    return [
      {
        name: 'POST /events',
        call: (k: string | null) => t.post(EVENTS, ev(), k),
        keys: [null, unknown, revoked.ingest, t.other.ingest, t.tenant.report, t.tenant.ingest],
      },
      {
        name: 'POST /events/batch',
        call: (k: string | null) => t.post(BATCH, { events: [ev()] }, k),
        keys: [null, unknown, revoked.ingest, t.other.ingest, t.tenant.report, t.tenant.ingest],
      },
      {
        name: 'GET /stats?tenantId=own',
        call: (k: string | null) => t.get(`/api/v1/analytics/stats?tenantId=${TENANT}`, k),
        keys: [null, unknown, revoked.admin, t.other.admin, t.tenant.report, t.tenant.admin],
      },
      {
        name: 'GET /admin/queues',
        call: (k: string | null) => t.get('/admin/queues', k),
        keys: [null, unknown, revoked.admin, t.tenant.admin, t.operator.report, t.operator.admin],
      },
      {
        name: 'GET /admin/queues/api/queues',
        call: (k: string | null) => t.get('/admin/queues/api/queues', k),
        keys: [null, unknown, revoked.admin, t.tenant.admin, t.operator.report, t.operator.admin],
      },
      ...['health', 'health/live', 'health/ready', 'events/health'].map((p) => ({
        name: `GET /${p}`,
        call: (k: string | null) => t.get(`/api/v1/analytics/${p}`, k),
        keys: [null, unknown, revoked.admin, t.other.ingest, t.tenant.report, t.tenant.ingest],
      })),
      {
        name: 'GET /api/docs',
        call: (k: string | null) => t.get('/api/docs', k),
        keys: [null, unknown, revoked.admin, t.other.ingest, t.tenant.report, t.tenant.ingest],
      },
    ];
  };

  it('answers each cell with its expected status', async () => {
    const matrix: Record<string, Record<Credential, number>> = {};
    for (const e of endpoints()) {
      matrix[e.name] = {} as Record<Credential, number>;
      for (const [i, col] of COLUMNS.entries()) matrix[e.name][col] = (await e.call(e.keys[i])).status;
    }
    console.log(`access matrix\n${JSON.stringify(matrix, null, 1)}`);
    expect(matrix).toEqual({
      // other tenant's ingest key with this tenant's event: the event is refused in its verdict
      'POST /events': {
        'no key': 401,
        'unknown key': 401,
        'revoked key': 401,
        "other tenant's key": 400,
        'wrong scope': 403,
        'right key': 202,
      },
      'POST /events/batch': {
        'no key': 401,
        'unknown key': 401,
        'revoked key': 401,
        "other tenant's key": 202,
        'wrong scope': 403,
        'right key': 202,
      },
      'GET /stats?tenantId=own': {
        'no key': 401,
        'unknown key': 401,
        'revoked key': 401,
        "other tenant's key": 403,
        'wrong scope': 403,
        'right key': 200,
      },
      // "other tenant" here is an ordinary tenant's admin key: Bull Board needs an operator
      'GET /admin/queues': {
        'no key': 401,
        'unknown key': 401,
        'revoked key': 401,
        "other tenant's key": 403,
        'wrong scope': 403,
        'right key': 200,
      },
      'GET /admin/queues/api/queues': {
        'no key': 401,
        'unknown key': 401,
        'revoked key': 401,
        "other tenant's key": 403,
        'wrong scope': 403,
        'right key': 200,
      },
      'GET /health': {
        'no key': 200,
        'unknown key': 200,
        'revoked key': 200,
        "other tenant's key": 200,
        'wrong scope': 200,
        'right key': 200,
      },
      'GET /health/live': {
        'no key': 200,
        'unknown key': 200,
        'revoked key': 200,
        "other tenant's key": 200,
        'wrong scope': 200,
        'right key': 200,
      },
      'GET /health/ready': {
        'no key': 200,
        'unknown key': 200,
        'revoked key': 200,
        "other tenant's key": 200,
        'wrong scope': 200,
        'right key': 200,
      },
      'GET /events/health': {
        'no key': 200,
        'unknown key': 200,
        'revoked key': 200,
        "other tenant's key": 200,
        'wrong scope': 200,
        'right key': 200,
      },
      'GET /api/docs': {
        'no key': 200,
        'unknown key': 200,
        'revoked key': 200,
        "other tenant's key": 200,
        'wrong scope': 200,
        'right key': 200,
      },
    });
  });

  it('explains each refusal in a problem body', async () => {
    const none = await t.post(EVENTS, makeEvent(), null);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="analytics"');
    expect(none.json).toMatchObject({
      status: 401,
      detail: 'Send an API key as "Authorization: Bearer <key>" or "X-Analytics-Key: <key>".',
    });
    expect((await t.post(EVENTS, makeEvent(), revoked.ingest)).json.detail).toBe('The API key has been revoked.');
    expect((await t.post(EVENTS, makeEvent(), 'ak_nothex')).json.detail).toBe('The API key is not valid.');
    expect((await t.post(EVENTS, makeEvent(), t.tenant.report)).json).toMatchObject({
      status: 403,
      required_scope: 'ingest',
      detail: 'This endpoint needs the "ingest" scope; this credential has report.',
    });
    const board = await t.get('/admin/queues');
    expect(board.headers.get('www-authenticate')).toMatch(/^Basic realm="Analytics admin"/);
    const batch = await t.post(BATCH, { events: [makeEvent()] }, t.other.ingest);
    expect(batch.json.results[0]).toMatchObject({
      status: 'rejected',
      errors: [{ pointer: '/tenant_id', keyword: 'tenant' }],
    });
  });

  it('accepts the key as X-Analytics-Key, and as the Basic password for the admin pages', async () => {
    expect((await t.post(EVENTS, makeEvent(), null, { 'x-analytics-key': t.tenant.ingest })).status).toBe(202);
    const basic = Buffer.from(`ops:${t.operator.admin}`).toString('base64');
    expect((await t.get('/admin/queues/api/queues', null, { authorization: `Basic ${basic}` })).status).toBe(200);
  });

  it("lets an operator read any tenant's stats, a tenant only its own, with counts of its verdicts", async () => {
    // Counters are summed in memory and flushed to Redis once a second; the test flushes them itself.
    const counters = t.api!.get(IngestStats);
    await counters.flush();
    const before = (await t.get('/api/v1/analytics/stats', t.tenant.admin)).json.ingestion;
    await t.post(BATCH, {
      events: [makeEvent(), makeEvent({ source: 'x' }), makeEvent({ context: { consent: { analytics: false } } })],
    });
    await counters.flush();
    const own = await t.get('/api/v1/analytics/stats', t.tenant.admin);
    expect(own.json).toEqual({
      tenant_id: TENANT,
      ingestion: {
        accepted: before.accepted + 1,
        duplicate: before.duplicate,
        dropped: before.dropped + 1,
        rejected: before.rejected + 1,
        quarantined: before.quarantined,
      },
    });
    const op = await t.get(`/api/v1/analytics/stats?tenantId=${TENANT}`, t.operator.admin);
    expect(op.json.ingestion).toEqual(own.json.ingestion);
    expect(op.json.service.queues.ingest).toEqual(expect.objectContaining({ waiting: expect.any(Number), failed: 0 }));
    expect((await t.get(`/api/v1/analytics/stats?tenantId=${t.other.id}`, t.tenant.admin)).status).toBe(403);
    expect((await t.get('/api/v1/analytics/stats?tenantId=nope', t.tenant.admin)).status).toBe(400);
    const missing = await t.get(
      '/api/v1/analytics/stats?tenantId=00000000-0000-4000-8000-000000000000',
      t.operator.admin,
    );
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ status: 404, title: 'Tenant not found' });
  });

  it("answers a report naming a tenant that does not exist with 404, and another tenant's with 403", async () => {
    const day = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000);
    const body = (tenantId: string) => ({
      tenantId,
      metric: 'ai.tool_calls.count',
      from: day.toISOString(),
      to: new Date(day.getTime() + 86_400_000).toISOString(),
      grain: '1h',
    });
    const nobody = '00000000-0000-4000-8000-000000000000';
    const missing = await t.post('/api/v1/analytics/reports/timeseries', body(nobody), t.operator.admin);
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({
      status: 404,
      title: 'Tenant not found',
      detail: `There is no tenant ${nobody}.`,
    });
    const other = await t.post('/api/v1/analytics/reports/timeseries', body(t.other.id), t.tenant.report);
    expect(other.status).toBe(403);
    const own = await t.post('/api/v1/analytics/reports/timeseries', body(TENANT), t.operator.admin);
    expect(own.status).toBe(200);
    expect(own.json.points).toHaveLength(24);
  });

  it('a revoked key is refused by every instance within one second', async () => {
    const second = await createSecondApi(t);
    // Both instances' clocks stand still and move only when the test moves them.
    const clocks = [pinClock(t.api!), pinClock(second.app)];
    try {
      const cacheMs = t.config.auth.keyCacheMs;
      expect(cacheMs).toBe(1000);
      const key = (await seedTenant(t.db, 'cccccccc-0000-4000-8000-00000000000c', { name: 'soon revoked' })).ingest;
      const send = (base: string) =>
        request(`${base}${EVENTS}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify(makeEvent({ tenant_id: 'cccccccc-0000-4000-8000-00000000000c' })),
        });
      expect((await send(t.url)).status).toBe(202); // both instances now hold the key in their caches
      expect((await send(second.url)).status).toBe(202);
      await t.db.query(
        `UPDATE analytics_api_keys SET revoked_at = now() WHERE tenant_id = 'cccccccc-0000-4000-8000-00000000000c'`,
      );
      // Up to the cache's last millisecond an instance may still answer from its cached row...
      for (const c of clocks) c.advance(cacheMs - 1);
      expect([(await send(t.url)).status, (await send(second.url)).status]).toEqual([202, 202]);
      // ...and one second after it cached the key, every instance reads the revocation.
      for (const c of clocks) c.advance(1);
      const refused = [await send(t.url), await send(second.url)];
      expect(refused.map((r) => [r.status, r.json.detail])).toEqual([
        [401, 'The API key has been revoked.'],
        [401, 'The API key has been revoked.'],
      ]);
    } finally {
      for (const c of clocks) c.release();
      await second.app.close();
    }
  });

  it('answers CORS per tenant: preflight allowed, the actual request held to the allow-list', async () => {
    await t.db.query(`UPDATE analytics_tenants SET cors_origins = '{https://shop.example.com}' WHERE id = $1`, [
      t.other.id,
    ]);
    expireCredentialCache(t.api!, t.config.auth.keyCacheMs); // the tenant row is cached
    const pre = await request(`${t.url}${EVENTS}`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://shop.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-analytics-key, content-type',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/X-Analytics-Key/);
    const ev = () => makeEvent({ tenant_id: t.other.id, source: 'widget' });
    const ok = await t.post(EVENTS, ev(), t.other.ingest, { origin: 'https://shop.example.com' });
    expect(ok.status).toBe(202);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://shop.example.com');
    const evil = await t.post(EVENTS, ev(), t.other.ingest, { origin: 'https://evil.example.net' });
    expect(evil.status).toBe(403);
    expect(evil.json.detail).toBe("Origin https://evil.example.net is not in this tenant's CORS allow-list.");
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    expect((await t.post(EVENTS, ev(), t.other.ingest)).status).toBe(202); // servers send no Origin
    // a tenant without an allow-list takes no cross-site browser calls
    expect((await t.post(EVENTS, makeEvent(), t.tenant.ingest, { origin: 'https://shop.example.com' })).status).toBe(
      403,
    );
  });

  it('sets security headers on every answer', async () => {
    const res = await t.get('/api/v1/analytics/health/live');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=/);
    expect(res.headers.get('x-powered-by')).toBeNull();
  });
});

describe('Swagger UI can be switched off', () => {
  it('answers 404 at /api/docs when ANALYTICS_SWAGGER_ENABLED=false', async () => {
    const t = await createTestEnv({ ANALYTICS_SWAGGER_ENABLED: 'false' }, { worker: false });
    try {
      expect((await t.get('/api/docs')).status).toBe(404);
      expect((await t.get('/api/v1/analytics/health/live')).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

async function createSecondApi(t: TestEnv) {
  const { createApiApp } = await import('../src/app/bootstrap');
  const app = await createApiApp(t.config);
  await app.listen(0, '127.0.0.1');
  return { app, url: `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}` };
}
