import { PoolClient } from 'pg';
import { Clock } from '../src/common/clock';
import { REPORT_CLOCK } from '../src/modules/reporting/reporting.service';
import { waitFor } from './support/events';
import { createTestEnv, HttpAnswer, TestEnv } from './support/test-env';

const REPORTS = '/api/v1/analytics/reports';
const DAY = 86_400_000;
const S1 = '00000000-0000-4000-8000-000000000001';
const S2 = '00000000-0000-4000-8000-000000000002';
const S3 = '00000000-0000-4000-8000-000000000003';

const invalid = (detail: string) => ({
  type: 'https://analytics.dev/problems/invalid-report',
  title: 'Invalid report request',
  status: 400,
  detail,
});
/** A request its DTO refuses: the same problem, with the failed rule at its JSON pointer. */
const invalidField = (pointer: string, keyword: string, message: string) => ({
  ...invalid(`${message}.`),
  errors: [{ pointer, keyword, message }],
});

/**
 * Every report is bounded before it runs, under one deadline, a few at a time: each bound is a 400
 * naming its variable, dates out of range are 400s, work past the deadline a 504, reports beyond
 * the concurrency limits 429s; and a 40,000-event session's funnel answers exactly.
 */
describe('report bounds', () => {
  let t: TestEnv;
  // Day A: one session of 40,000 events and two small ones; day B, the day before: 2,000 one-event sessions.
  const dayA = Math.floor(Date.now() / DAY) * DAY - 3 * DAY;
  const dayB = dayA - DAY;
  const iso = (ms: number) => new Date(ms).toISOString();

  beforeAll(async () => {
    t = await createTestEnv(
      {
        ANALYTICS_REPORT_MAX_EVENTS: '41000',
        ANALYTICS_FUNNEL_MAX_UNIT_EVENTS: '40000',
        ANALYTICS_REPORT_CONCURRENCY: '3',
        ANALYTICS_REPORT_TENANT_CONCURRENCY: '2',
        ANALYTICS_ENABLE_ROLLUPS: 'false',
      },
      { worker: false },
    );
    for (const day of [dayA, dayB]) await t.db.query('SELECT analytics_ensure_raw_partition($1::date)', [iso(day)]);
    const insert = (select: string, params: unknown[]) =>
      t.db.query(
        `INSERT INTO analytics_events_raw (tenant_id, event_id, event_name, occurred_at, session_id, user_id, source)
         SELECT $1, gen_random_uuid(), e.name, e.at, e.session, 'u_1', 'web' FROM (${select}) AS e(name, at, session)`,
        [t.tenant.id, ...params],
      );
    // S1: 39,999 views 100 ms apart, then a checkout; all in the first 67 minutes of day A.
    await insert(
      `SELECT CASE WHEN i < 39999 THEN 'commerce.view' ELSE 'commerce.checkout' END,
              $2::timestamptz + i * interval '100 milliseconds', $3::uuid
       FROM generate_series(0, 39999) AS i`,
      [iso(dayA), S1],
    );
    // S2: a view, a checkout 5 s later; S3: a view only.
    await insert(
      `VALUES ('commerce.view', $2::timestamptz, $3::uuid), ('commerce.checkout', $2::timestamptz + interval '5 seconds', $3::uuid),
              ('commerce.view', $2::timestamptz, $4::uuid)`,
      [iso(dayA + 60_000), S2, S3],
    );
    await insert(
      `SELECT 'commerce.view', $2::timestamptz + i * interval '1 second', gen_random_uuid() FROM generate_series(1, 2000) AS i`,
      [iso(dayB)],
    );
    expect((await t.db.query('SELECT count(*)::int AS n FROM analytics_events_raw')).rows[0].n).toBe(42_003);
  });

  afterAll(async () => {
    await t?.close();
  });

  const report = (path: string, body: Record<string, unknown>, key = t.tenant.report) =>
    t.post(`${REPORTS}/${path}`, { tenantId: t.tenant.id, ...body }, key);
  const funnel = (body: Record<string, unknown>, key?: string) =>
    report('funnel', { steps: ['commerce.view', 'commerce.checkout'], ...body }, key);
  const expectProblem = (res: HttpAnswer, body: Record<string, unknown>) => {
    expect({ status: res.status, body: res.json }).toEqual({ status: body.status, body });
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  };

  it('answers the funnel of a 40,000-event session exactly, ordered and strict', async () => {
    const range = { from: iso(dayA), to: iso(dayA + 2 * 3_600_000), window_seconds: 30 * 86400 };
    const ordered = await funnel(range);
    expect(ordered.status).toBe(200);
    // S1 from its first view to its checkout (3,999,900 ms), S2 in 5 s, S3 only viewed.
    expect(ordered.json.steps.map((s: { units: number }) => s.units)).toEqual([3, 2]);
    expect(ordered.json.steps[1]).toMatchObject({
      conversion_from_first: 2 / 3,
      median_ms_from_previous: (3_999_900 + 5000) / 2,
    });
    expect(ordered.json.meta).toMatchObject({ units: 3, unit: 'session_id', order: 'ordered' });

    const strict = await funnel({ ...range, order: 'strict' });
    expect(strict.status).toBe(200);
    // Strict: S1's last view is right before its checkout (100 ms).
    expect(strict.json.steps.map((s: { units: number }) => s.units)).toEqual([3, 2]);
    expect(strict.json.steps[1].median_ms_from_previous).toBe((100 + 5000) / 2);

    const repeated = await report('funnel', {
      ...range,
      steps: ['commerce.view', 'commerce.view', 'commerce.checkout'],
    });
    expect(repeated.json.steps.map((s: { units: number }) => s.units)).toEqual([3, 1, 1]);
    expect(repeated.json.steps.map((s: { median_ms_from_previous: number }) => s.median_ms_from_previous)).toEqual([
      null,
      100,
      3_999_800,
    ]);
  });

  it('refuses a funnel that would read more than ANALYTICS_REPORT_MAX_EVENTS events, or a unit with too many', async () => {
    expectProblem(
      await funnel({ from: iso(dayB), to: iso(dayA + 3_600_000) }),
      invalid('The funnel would read more than 41000 events (ANALYTICS_REPORT_MAX_EVENTS); narrow the range.'),
    );
    // By user, every event of day A is one unit's: 40,003 events.
    expectProblem(
      await funnel({ from: iso(dayA), to: iso(dayA + 2 * 3_600_000), unit: 'user_id', window_seconds: 60 }),
      invalid(
        "One user has more than 40000 events in this funnel's range (ANALYTICS_FUNNEL_MAX_UNIT_EVENTS); narrow the range.",
      ),
    );
    // A metric computed from raw events (rollups are off here) is bounded the same way.
    expectProblem(
      await report('timeseries', {
        metric: 'commerce.conversion_rate',
        grain: '1d',
        from: iso(dayB),
        to: iso(dayA + DAY),
      }),
      invalid(
        'The report would read more than 41000 events (ANALYTICS_REPORT_MAX_EVENTS); narrow the range or filter by site_id or source.',
      ),
    );
  });

  it('refuses ranges, points and metric lists beyond their limits with a 400 naming the limit', async () => {
    // The 1,000-year summary that once ran the api out of memory.
    const from = '0001-01-01T00:30:00Z';
    const to = '9999-01-01T00:00:00Z';
    const days = Math.ceil((Date.parse(to) - Date.parse(from)) / DAY);
    expectProblem(
      await report('summary', { metrics: ['commerce.conversion_rate'], from, to }),
      invalid(
        `A summary covers at most 400 days (ANALYTICS_REPORT_MAX_RANGE_DAYS); this one covers ${days} days. Choose a shorter range.`,
      ),
    );
    expectProblem(
      await report('timeseries', {
        metric: 'commerce.conversion_rate',
        grain: '1d',
        from: '2024-01-01T00:00:00Z',
        to: '2025-02-05T00:00:00Z',
      }),
      invalid(
        'A timeseries covers at most 400 days (ANALYTICS_REPORT_MAX_RANGE_DAYS); this one covers 401 days. Choose a shorter range.',
      ),
    );
    expectProblem(
      await report('timeseries', {
        metric: 'commerce.conversion_rate',
        grain: '1m',
        from: '2025-01-01T00:00:00Z',
        to: '2025-01-08T00:00:00Z',
      }),
      invalid(
        '10080 points at 1m from 2025-01-01T00:00:00.000Z to 2025-01-08T00:00:00.000Z; the limit is 10000 (ANALYTICS_MAX_TIMESERIES_POINTS). Choose a coarser grain or a shorter range.',
      ),
    );
    expectProblem(
      await funnel({ from: '2025-01-01T00:00:00Z', to: '2025-04-02T00:00:00Z' }),
      invalid(
        'A funnel covers at most 90 days (ANALYTICS_FUNNEL_MAX_RANGE_DAYS); this one covers 91 days. Choose a shorter range.',
      ),
    );
    for (const [metrics, keyword] of [
      [[], 'arrayMinSize'],
      [Array.from({ length: 31 }, () => 'commerce.conversion_rate'), 'arrayMaxSize'],
    ] as const) {
      expectProblem(
        await report('summary', { metrics, from: iso(dayA), to: iso(dayB) }),
        invalidField('/metrics', keyword, 'metrics must be a list of 1 to 30 metric names'),
      );
    }
  });

  it('answers 400, never 500, for dates that are not RFC 3339 date-times of years 0001 to 9999', async () => {
    const bad = [
      '-271821-04-20T00:00:00Z',
      '+275760-09-13T00:00:00Z',
      '0000-01-01T00:00:00Z',
      '2026-02-30T00:00:00Z',
      '2025-02-29T00:00:00Z',
      '2025-01-01T24:00:00Z',
      '2025-01-01',
      '2025-01-01T00:00:00',
      'Wed, 01 Jan 2025 00:00:00 GMT',
    ];
    const message = (name: string, v: string) =>
      `${name} must be an RFC 3339 date-time with a zone, years 0001 to 9999, e.g. 2025-01-15T00:00:00Z; got ${JSON.stringify(v)}`;
    for (const v of bad) {
      const good = iso(dayA);
      expectProblem(await funnel({ from: v, to: good }), invalidField('/from', 'format', message('from', v)));
      expectProblem(
        await report('timeseries', { metric: 'commerce.conversion_rate', grain: '1h', from: v, to: good }),
        invalidField('/from', 'format', message('from', v)),
      );
      expectProblem(
        await report('summary', { metrics: ['commerce.conversion_rate'], from: good, to: v }),
        invalidField('/to', 'format', message('to', v)),
      );
    }
    // The edges of the range, and a zone that moves year 0001 into year 0000 UTC, are fine.
    const edges = await report('timeseries', {
      metric: 'commerce.conversion_rate',
      grain: '1d',
      from: '0001-01-01T00:00:00+01:00',
      to: '0001-01-03T00:00:00Z',
    });
    expect(edges.status).toBe(200);
    expect(edges.json.points.map((p: { count: number }) => p.count)).toEqual([0, 0, 0]);
    const leap = await report('timeseries', {
      metric: 'commerce.conversion_rate',
      grain: '1d',
      from: '2024-02-29T00:00:00Z',
      to: '9999-12-31T23:59:59.999Z',
    });
    expect(leap.status).toBe(400);
    expect(leap.json.detail).toMatch(/ANALYTICS_MAX_TIMESERIES_POINTS/);
  });

  it('answers 504 when the matching after the query runs past the deadline, read from the injected clock', async () => {
    const clock = t.api!.get<Clock>(REPORT_CLOCK);
    const system = clock.now.bind(clock);
    // Every reading of the clock moves it a second on: the 10 s deadline passes after ten readings,
    // the query takes two (when the deadline is set and for its statement timeout), the matching of
    // 2,000 sessions one per 100 sessions.
    let at = Date.now();
    clock.now = () => (at += 1000);
    try {
      const res = await funnel({ from: iso(dayB), to: iso(dayB + 3_600_000) });
      expectProblem(res, {
        type: 'https://analytics.dev/problems/report-timeout',
        title: 'Report timed out',
        status: 504,
        detail:
          'The report ran past 10000 ms (ANALYTICS_REPORT_TIMEOUT_MS) while matching funnel steps after its query. Choose a shorter range.',
      });
    } finally {
      clock.now = system;
    }
    // With the clock back, the same funnel answers: 2,000 sessions that viewed.
    const ok = await funnel({ from: iso(dayB), to: iso(dayB + 3_600_000) });
    expect(ok.status).toBe(200);
    expect(ok.json.steps.map((s: { units: number }) => s.units)).toEqual([2000, 0]);
  });

  it('answers 429 with Retry-After beyond the per-tenant and per-instance report limits, and frees the slots', async () => {
    // Reports held in flight: their query waits on a lock this test holds on the raw table.
    const holder: PoolClient = await t.db.connect();
    const waiting = async () =>
      (
        await t.db.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%FROM analytics_events_raw%'`,
        )
      ).rows[0].n as number;
    const range = { from: iso(dayA + 60_000), to: iso(dayA + 120_000) };
    let held: Promise<HttpAnswer>[] = [];
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE analytics_events_raw IN ACCESS EXCLUSIVE MODE');
      held = [funnel(range), funnel(range)];
      await waitFor('two reports waiting on the lock', async () => (await waiting()) === 2);

      const perTenant = await funnel(range);
      expectProblem(perTenant, {
        type: 'https://analytics.dev/problems/reports-busy',
        title: 'Too many reports running',
        status: 429,
        detail:
          'This tenant already has 2 reports running, the limit per tenant (ANALYTICS_REPORT_TENANT_CONCURRENCY is 2). Retry when one has answered.',
      });
      expect(perTenant.headers.get('retry-after')).toBe('1');

      const other = { tenantId: t.other.id, steps: ['commerce.view', 'commerce.checkout'], ...range };
      held.push(t.post(`${REPORTS}/funnel`, other, t.other.report));
      await waitFor('three reports waiting on the lock', async () => (await waiting()) === 3);
      const perInstance = await t.post(`${REPORTS}/funnel`, other, t.other.report);
      expectProblem(perInstance, {
        type: 'https://analytics.dev/problems/reports-busy',
        title: 'Too many reports running',
        status: 429,
        detail:
          'This instance already runs 3 reports, its limit (ANALYTICS_REPORT_CONCURRENCY is 3). Retry in a moment.',
      });
      expect(perInstance.headers.get('retry-after')).toBe('1');
      // Summaries and timeseries share the limits.
      expect((await report('summary', { metrics: ['commerce.conversion_rate'], ...range })).status).toBe(429);
    } finally {
      await holder.query('COMMIT');
      holder.release();
    }
    const answers = await Promise.all(held);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    // S1, S2 and S3 viewed in that minute; S2 checked out (S1's checkout is past the hour's window).
    expect(answers[0].json.steps.map((s: { units: number }) => s.units)).toEqual([3, 1]);
    expect(answers[2].json.steps.map((s: { units: number }) => s.units)).toEqual([0, 0]);
    // Every slot is free again.
    const again = await Promise.all([funnel(range), funnel(range)]);
    expect(again.map((a) => a.status)).toEqual([200, 200]);
  });
});
