import { MetricsPort } from '../src/modules/observability/metrics-port';
import { BATCH, makeEvent, waitFor } from './support/events';
import { TestEnv, createTestEnv, request } from './support/test-env';

const TIMESERIES = '/api/v1/analytics/reports/timeseries';
const FUNNEL = '/api/v1/analytics/reports/funnel';

describe('debug mode: report answers to an admin key carry their SQL, plans and timings', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({ ANALYTICS_DEBUG_MODE: 'true', LOG_LEVEL: 'error' });
    const events = Array.from({ length: 6 }, () => makeEvent());
    expect((await t.post(BATCH, { events })).json.accepted).toBe(6);
    await waitFor(
      'the events folded',
      async () =>
        (await t.db.query('SELECT count(*)::int AS n FROM analytics_events_raw')).rows[0].n === 6 &&
        (await t.db.query('SELECT count(*)::int AS n FROM analytics_rollup_pending')).rows[0].n === 0,
      30000,
    );
  });
  afterAll(() => t.close());

  const body = () => ({
    tenantId: t.tenant.id,
    metric: 'voice.first_response_ms.p95',
    from: new Date(Date.now() - 3600_000).toISOString(),
    to: new Date(Date.now() + 3600_000).toISOString(),
    grain: '1h',
  });

  it('gives an admin key each statement with its EXPLAIN (ANALYZE, BUFFERS) plan', async () => {
    const res = await t.post(TIMESERIES, body(), t.tenant.admin);
    expect(res.status).toBe(200);
    const debug = res.json.meta.debug;
    expect(debug.total_ms).toEqual(expect.any(Number));
    expect(debug.statements.length).toBeGreaterThanOrEqual(1);
    const rollupRead = debug.statements.find((s: { sql: string }) => /analytics_rollup/.test(s.sql));
    expect(rollupRead).toBeDefined();
    expect(rollupRead.sql).toMatch(/^(SELECT|WITH)\b/);
    expect(rollupRead.execution_ms).toEqual(expect.any(Number));
    expect(rollupRead.planning_ms).toEqual(expect.any(Number));
    expect(rollupRead.plan['Node Type']).toEqual(expect.any(String));
    expect(rollupRead.plan).toHaveProperty('Shared Hit Blocks'); // BUFFERS
    expect(rollupRead.plan).toHaveProperty('Actual Rows'); // ANALYZE
    // The answer itself is the same as without debug.
    const plain = await t.post(TIMESERIES, body(), t.tenant.report);
    expect(plain.json.points).toEqual(res.json.points);
  });

  it('gives a report key none, and a funnel over raw events its plan too', async () => {
    const plain = await t.post(TIMESERIES, body(), t.tenant.report);
    expect(plain.status).toBe(200);
    expect(plain.json.meta).not.toHaveProperty('debug');
    const funnel = await t.post(
      FUNNEL,
      {
        tenantId: t.tenant.id,
        from: new Date(Date.now() - 3600_000).toISOString(),
        to: new Date(Date.now() + 3600_000).toISOString(),
        steps: ['voice.first_response', 'voice.barge_in'],
      },
      t.tenant.admin,
    );
    expect(funnel.status).toBe(200);
    expect(funnel.json.meta.debug.statements.some((s: { sql: string }) => /analytics_events_raw/.test(s.sql))).toBe(
      true,
    );
  });
});

describe('the worker’s port: probes and /metrics; the api’s metrics apart from its public port', () => {
  it('serves live, ready and startup like the api, and /metrics, on node:http', async () => {
    const t = await createTestEnv();
    try {
      const worker = `http://127.0.0.1:${t.worker!.get(MetricsPort).port}`;
      for (const probe of ['live', 'ready', 'startup']) {
        const res = await request(`${worker}/api/v1/analytics/health/${probe}`);
        expect([probe, res.status, res.json.status]).toEqual([probe, 200, 'ok']);
      }
      expect((await request(`${worker}/api/v1/analytics/health/ready`)).json.checks).toEqual({
        postgres: 'up',
        redis: 'up',
      });
      const metrics = await request(`${worker}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(metrics.text).toMatch(/^analytics_queue_jobs\{queue="ingest",state="waiting",role="worker"\} 0$/m);
      expect(metrics.text).toMatch(/^analytics_partitions_ahead_days\{role="worker"\} 7$/m);
      expect(metrics.text).toMatch(/^analytics_redis_up\{role="worker"\} 1$/m);
      expect(metrics.text).not.toMatch(/analytics_http_requests_total/); // the api's
      expect((await request(`${worker}/nothing`)).status).toBe(404);
      expect((await request(`${worker}/metrics`, { method: 'POST' })).status).toBe(405);

      // The api: /metrics on its own port, not on the public one.
      const api = `http://127.0.0.1:${t.api!.get(MetricsPort).port}`;
      expect((await request(`${api}/metrics`)).text).toMatch(
        /^analytics_ingest_backlog_limit_jobs\{role="api"\} 10000$/m,
      );
      expect((await t.get('/metrics')).status).toBe(404);
    } finally {
      await t.close();
    }
  });

  it('with metrics off: no api port, and the worker keeps its probes', async () => {
    const t = await createTestEnv({ ANALYTICS_METRICS_ENABLED: 'false' });
    try {
      expect(t.api!.get(MetricsPort).port).toBeNull();
      const worker = `http://127.0.0.1:${t.worker!.get(MetricsPort).port}`;
      expect((await request(`${worker}/api/v1/analytics/health/ready`)).status).toBe(200);
      expect((await request(`${worker}/metrics`)).status).toBe(404);
    } finally {
      await t.close();
    }
  });
});
