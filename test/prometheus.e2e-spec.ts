import { ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsPort } from '../src/modules/observability/metrics-port';
import { BATCH, EVENTS, makeEvent, waitFor } from './support/events';
import { TestEnv, createTestEnv, request } from './support/test-env';
import { freePort } from './support/worker-process';

const DOCKER = join(__dirname, '..', 'docker');

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/**
 * Debian's prometheus on a free port, with its own data directory, scraping the test's api and
 * worker every second under the job names the alert rules and the dashboard expect.
 */
async function startPrometheus(targets: { api: number; worker: number }) {
  const dir = mkdtempSync(join(tmpdir(), 'analytics-prometheus-'));
  copyFileSync(join(DOCKER, 'prometheus', 'alerts.yml'), join(dir, 'alerts.yml'));
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'rule_files: [alerts.yml]',
      'scrape_configs:',
      `  - { job_name: analytics-api, static_configs: [{ targets: ['127.0.0.1:${targets.api}'] }] }`,
      `  - { job_name: analytics-worker, static_configs: [{ targets: ['127.0.0.1:${targets.worker}'] }] }`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const base = `http://127.0.0.1:${port}`;
  await waitFor(
    'prometheus to be ready',
    async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited:\n${log}`);
      return fetch(`${base}/-/ready`).then(
        (r) => r.status === 200,
        () => false,
      );
    },
    30000,
    100,
  );
  const query = async (expr: string): Promise<Sample[]> => {
    const res = await request(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`);
    if (res.json?.status !== 'success') throw new Error(`query ${expr} failed: ${res.text}`);
    return res.json.data.result as Sample[];
  };
  /** The single value of an expression, or null while it has none. */
  const value = async (expr: string): Promise<number | null> => {
    const r = await query(expr);
    return r.length === 1 ? Number(r[0].value[1]) : null;
  };
  return {
    base,
    query,
    value,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('metrics scraped by a real Prometheus', () => {
  let t: TestEnv;
  let prom: Awaited<ReturnType<typeof startPrometheus>>;

  beforeAll(async () => {
    t = await createTestEnv();
    prom = await startPrometheus({ api: t.api!.get(MetricsPort).port!, worker: t.worker!.get(MetricsPort).port! });
    // Both targets scraped before any traffic: every counter's first sample is its zero, so rates see the traffic.
    await waitFor('both targets scraped', async () => (await prom.value('sum(up)')) === 2, 30000, 200);
  });
  afterAll(async () => {
    await prom?.stop();
    await t?.close();
  });

  it('counts what was sent and stored, per lane, verdict, keyword and dedupe stage, as Prometheus reads it', async () => {
    // 10 single events through the ingest route, 2 through Express (a path spelling it leaves to
    // Express), one invalid single event (400), and a batch of 15 new, 3 invalid and 2 repeats.
    const singles = Array.from({ length: 12 }, () => makeEvent());
    for (const e of singles.slice(0, 10)) expect((await t.post(EVENTS, e)).status).toBe(202);
    for (const e of singles.slice(10)) expect((await t.post(`${EVENTS}/`, e)).status).toBe(202);
    expect((await t.post(EVENTS, makeEvent({ attributes: {} }))).status).toBe(400);
    const fresh = Array.from({ length: 15 }, () => makeEvent({ event_name: 'kb.search' }));
    const invalid = [
      makeEvent({ attributes: {} }), // required
      makeEvent({ attributes: {} }),
      makeEvent({ event_id: 'not-a-uuid' }), // format
    ];
    const batch = await t.post(BATCH, { events: [...fresh, ...invalid, singles[0], singles[11]] });
    expect(batch.status).toBe(202);
    expect(batch.json).toMatchObject({ received: 20, accepted: 15, rejected: 3, duplicate: 2 });

    const stored = async () =>
      (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM analytics_events_raw')).rows[0].n;
    await waitFor('the 27 accepted events stored', async () => (await stored()) === 27, 30000);
    const completedJobs = (await t.ingestQueue.getJobCounts('completed')).completed;

    const expected: [string, number][] = [
      ['sum(analytics_ingest_events_total{verdict="accepted"})', 27],
      ['sum(analytics_ingest_events_total{verdict="duplicate"})', 2],
      ['sum(analytics_ingest_events_total{verdict="rejected"})', 4],
      ['sum(analytics_ingest_dedupe_hits_total{stage="fast_path"})', 2],
      ['sum(analytics_events_persisted_total)', 27],
      ['sum(analytics_rollup_folded_events_total)', 27],
      ['max(analytics_rollup_pending_events)', 0],
      ['sum(analytics_jobs_total{job_name="persist-events",outcome="completed"})', completedJobs],
      ['sum(analytics_job_duration_seconds_count{job_name="persist-events"})', completedJobs],
      [
        'sum(analytics_http_requests_total{lane="ingest-route",route="/api/v1/analytics/events",method="POST",status="202"})',
        10,
      ],
      [
        'sum(analytics_http_requests_total{lane="ingest-route",route="/api/v1/analytics/events",method="POST",status="400"})',
        1,
      ],
      [
        'sum(analytics_http_requests_total{lane="express",route="/api/v1/analytics/events",method="POST",status="202"})',
        2,
      ],
      ['sum(analytics_http_requests_total{route="/api/v1/analytics/events/batch",status="202"})', 1],
      ['sum(analytics_http_request_duration_seconds_count{route=~"/api/v1/analytics/events(/batch)?"})', 14],
      // three events without their two required attributes: two errors each
      ['sum(analytics_ingest_validation_failures_total{event_type="voice.first_response",keyword="required"})', 6],
      ['sum(analytics_ingest_validation_failures_total{keyword="format"})', 1],
      ['sum(up{job="analytics-api"})', 1],
      ['sum(up{job="analytics-worker"})', 1],
      ['max(analytics_ingest_backlog_limit_jobs)', t.config.ingestion.maxQueueBacklog],
    ];
    // Prometheus scrapes every second: poll until it has read the final counts (bounded), then compare exactly.
    const read = () => Promise.all(expected.map(async ([expr]) => [expr, await prom.value(expr)] as const));
    let got: (readonly [string, number | null])[] = [];
    await waitFor(
      'Prometheus to read the final counts',
      async () => {
        got = await read();
        return got.every(([, v], i) => v === expected[i][1]);
      },
      30000,
      250,
    ).catch(() => undefined);
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(expected));
    expect(await stored()).toBe(27);
    // Both roles' default process metrics, labelled by role.
    const cpu = await prom.query('process_cpu_seconds_total');
    expect(cpu.map((s) => [s.metric.job, s.metric.role]).sort()).toEqual([
      ['analytics-api', 'api'],
      ['analytics-worker', 'worker'],
    ]);
    process.stdout.write(
      `Prometheus read back:\n${got.map(([expr, v]) => `  ${String(v).padStart(4)}  ${expr}`).join('\n')}\n`,
    );
  });

  it('loads the alert rules, and every panel of the Grafana dashboard returns data', async () => {
    const rules = await request(`${prom.base}/api/v1/rules`);
    const loaded = (rules.json.data.groups as { rules: { name: string; health: string; type: string }[] }[]).flatMap(
      (g) => g.rules,
    );
    expect(loaded).toHaveLength(11);
    for (const r of loaded) expect([r.name, r.type, r.health]).toEqual([r.name, 'alerting', 'ok']);

    // A report of each kind, so that the report panels have something to show.
    const from = new Date(Date.now() - 3600_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const report = (kind: string, body: object) =>
      t.post(`/api/v1/analytics/reports/${kind}`, { tenantId: t.tenant.id, from, to, ...body }, t.tenant.report);
    expect((await report('timeseries', { metric: 'voice.first_response_ms.p95', grain: '1h' })).status).toBe(200);
    expect((await report('summary', { metrics: ['kb.hit_rate'] })).status).toBe(200);

    const dashboard = JSON.parse(readFileSync(join(DOCKER, 'grafana', 'analytics-dashboard.json'), 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(20);
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((x) => ({ panel: p.title, expr: x.expr })));
    const withData = async () =>
      Promise.all(
        exprs.map(async ({ panel, expr }) => {
          const r = await prom.query(expr.replace(/\$__rate_interval/g, '5m'));
          return { panel, expr, data: r.some((s) => Number.isFinite(Number(s.value[1]))) };
        }),
      );
    let results: { panel: string; expr: string; data: boolean }[] = [];
    await waitFor(
      'every panel to have data',
      async () => (results = await withData()).every((r) => r.data),
      30000,
      500,
    ).catch(() => undefined);
    expect(results.filter((r) => !r.data)).toEqual([]);
    expect(results).toHaveLength(exprs.length);
  });
});
