import { randomUUID } from 'node:crypto';
import { BUILTIN_EVENTS } from '../src/modules/schema-registry/builtin-events';
import { DDSketch } from '../src/modules/rollups/ddsketch';
import { METRICS } from '../src/modules/rollups/metric-catalog';
import { BATCH, makeEvent } from './support/events';
import { rng } from './support/hostile';
import { countRows, drained } from './support/queue';
import { TestEnv, createTestEnv, request } from './support/test-env';

const ALL_SITES = 'ffffffff-ffff-ffff-ffff-ffffffffffff';
const SITES = ['5f0c3a52-7d2e-4b8f-a1c9-0e6d4b2a8f31', '6a1d4b63-8e3f-4c9a-b2da-1f7e5c3b9a42'];
const DAY = 86_400_000;

/** A random but valid event of any built-in type, with varied numbers, sessions, hits and outcomes. */
function randomEvent(r: ReturnType<typeof rng>, tenant: string, sessions: string[]): Record<string, unknown> {
  const type = r.pick(BUILTIN_EVENTS);
  const attributes: Record<string, unknown> = structuredClone(type.example);
  const num = (lo: number, hi: number) => Math.round((lo + r.next() * (hi - lo)) * 100) / 100;
  if (type.name === 'voice.first_response') attributes['voice.first_response_ms'] = r.chance(0.8) ? num(150, 900) : num(1500, 6000);
  if (type.name === 'voice.asr_partial') attributes['voice.asr_latency_ms'] = num(10, 300);
  if (type.name === 'kb.search') { attributes['kb.latency_ms'] = num(5, 400); attributes['kb.search_id'] = `s-${r.int(60)}`; }
  if (type.name === 'kb.hit') { attributes['kb.search_id'] = `s-${r.int(60)}`; attributes['kb.relevance_score'] = num(0, 1); }
  if (type.name === 'ai.tool_call_completed') {
    attributes['ai.tool.success'] = r.chance(0.85);
    if (!attributes['ai.tool.success']) attributes['error.type'] = 'timeout';
    attributes['ai.navigation.optimistic'] = r.chance(0.5);
  }
  if (type.name === 'ai.tool_chain_completed') attributes['ai.tool_chain.length'] = 1 + r.int(6);
  if (type.name === 'booking.slot_hold' || type.name === 'booking.confirmed') attributes['booking.hold_id'] = `h-${r.int(40)}`;
  return makeEvent({
    tenant_id: tenant, event_name: type.name, attributes, session_id: r.pick(sessions), site_id: r.pick(SITES),
    source: r.pick(['web', 'server']), occurred_at: new Date(Date.now() - r.int(3 * DAY)).toISOString(),
  });
}

interface Row { event_name: string; attributes: Record<string, unknown>; session_id: string | null; occurred_at: Date; tenant_id: string }

/** Brute force, written independently of the fold: the expected value of a metric over some rows. */
function expected(metric: (typeof METRICS)[number], rows: Row[]): { count: number; num: number; sum: number; values: number[] } {
  const sel = (s: { event: string; where?: { attribute: string; equals: unknown }[] }, row: Row) =>
    (s.event === '*' || s.event === row.event_name) && (s.where ?? []).every((w) => row.attributes[w.attribute] === w.equals);
  const unit = (name: string, row: Row) => (name === 'session_id' ? row.session_id : row.attributes[name]);
  if (metric.aggregation === 'distinct_rate') {
    const den = new Set(rows.filter((x) => sel(metric.of, x)).map((x) => unit(metric.of.distinct!, x)));
    const num = new Set(rows.filter((x) => sel(metric.numerator!, x)).map((x) => unit(metric.numerator!.distinct!, x)));
    return { count: den.size, num: num.size, sum: 0, values: [] };
  }
  const of = rows.filter((x) => sel(metric.of, x) && (!metric.attribute || typeof x.attributes[metric.attribute] === 'number'));
  const values = metric.attribute ? of.map((x) => x.attributes[metric.attribute!] as number) : [];
  return {
    count: of.length,
    num: metric.numerator ? rows.filter((x) => sel(metric.numerator!, x)).length : 0,
    sum: values.reduce((a, b) => a + b, 0),
    values,
  };
}

describe('rollups: exactly once, equal to a brute-force recomputation', () => {
  let t: TestEnv;
  beforeAll(async () => { t = await createTestEnv({ ANALYTICS_RATE_LIMIT_RPS: '100000', ANALYTICS_RATE_LIMIT_EPS: '10000000' }); });
  afterAll(async () => { await t.close(); });

  it('folds a random data set of every event type into day and hour rollups that match the raw rows', async () => {
    const r = rng(7);
    const sessions = Array.from({ length: 40 }, () => randomUUID());
    const batches: Record<string, unknown>[][] = [];
    for (const [tenant] of [[t.tenant.id], [t.other.id]]) {
      const events = Array.from({ length: 1500 }, () => randomEvent(r, tenant, sessions));
      for (let i = 0; i < events.length; i += 250) batches.push(events.slice(i, i + 250));
    }
    for (const b of batches) {
      const key = (b[0].tenant_id === t.tenant.id ? t.tenant : t.other).ingest;
      expect((await t.post(BATCH, { events: b }, key)).json.accepted).toBe(b.length);
    }
    await drained(t.ingestQueue, 60000);
    expect(await countRows(t.db)).toBe(3000);

    const snapshot = async () => (await t.db.query(`SELECT tenant_id, metric, level, site_id, source, bucket, count, num, sum, min, max, sketch FROM analytics_rollups ORDER BY 1, 2, 3, 4, 5, 6`)).rows;
    const before = await snapshot();

    // Brute force per tenant, per day bucket, over all sites and sources, and for one site and source.
    const raw: Row[] = (await t.db.query('SELECT event_name, attributes, session_id, occurred_at, tenant_id, site_id, source FROM analytics_events_raw')).rows;
    let compared = 0;
    for (const tenant of [t.tenant.id, t.other.id]) {
      for (const [site, source] of [[ALL_SITES, '*'], [SITES[0], 'web']]) {
        const scoped = raw.filter((x) => x.tenant_id === tenant && (site === ALL_SITES || (x as any).site_id === site) && (source === '*' || (x as any).source === source));
        const days = [...new Set(scoped.map((x) => new Date(Math.floor(x.occurred_at.getTime() / DAY) * DAY).toISOString()))];
        for (const day of days) {
          const inDay = scoped.filter((x) => new Date(Math.floor(x.occurred_at.getTime() / DAY) * DAY).toISOString() === day);
          for (const m of METRICS) {
            const want = expected(m, inDay);
            const row = before.find((x) => x.tenant_id === tenant && x.metric === m.name && x.level === 'd' && x.site_id === site && x.source === source && x.bucket.toISOString() === day);
            if (want.count === 0 && want.num === 0) { expect([m.name, row]).toEqual([m.name, undefined]); continue; }
            expect([m.name, day, Number(row.count), Number(row.num)]).toEqual([m.name, day, want.count, want.num]);
            if (m.aggregation === 'avg' || m.aggregation === 'sum') expect(row.sum).toBeCloseTo(want.sum, 6);
            if (m.aggregation === 'percentile') {
              const sorted = [...want.values].sort((a, b) => a - b);
              const sketch = DDSketch.decode(row.sketch);
              expect([m.name, day, sketch.count]).toEqual([m.name, day, Number(row.count)]); // every merge kept every value
              for (const q of [0.5, 0.95, 0.99]) {
                const truth = sorted[Math.floor(q * (sorted.length - 1))];
                expect(Math.abs(sketch.quantile(q)! - truth) / truth).toBeLessThanOrEqual(0.01);
              }
              expect(row.min).toBe(sorted[0]);
              expect(row.max).toBe(sorted[sorted.length - 1]);
            }
            compared++;
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(100);
    // hours add up to days
    const hoursVsDays = await t.db.query(`
      SELECT d.tenant_id, d.metric, d.site_id, d.source, d.bucket, d.count AS day_count, sum(h.count) AS hour_count FROM analytics_rollups d
      JOIN analytics_rollups h ON h.tenant_id = d.tenant_id AND h.metric = d.metric AND h.level = 'h' AND h.site_id = d.site_id AND h.source = d.source
        AND h.bucket >= d.bucket AND h.bucket < d.bucket + interval '1 day'
      WHERE d.level = 'd' AND d.metric NOT IN ('kb.hit_rate', 'commerce.conversion_rate', 'booking.hold_to_confirm_rate')
      GROUP BY 1, 2, 3, 4, 5, 6 HAVING d.count <> sum(h.count)`);
    expect(hoursVsDays.rows).toEqual([]);

    // Duplicates, and a job run twice, change no rollup.
    for (const b of batches.slice(0, 3)) {
      const key = (b[0].tenant_id === t.tenant.id ? t.tenant : t.other).ingest;
      expect((await t.post(BATCH, { events: b }, key)).json.duplicate).toBe(b.length);
    }
    const stored = (await t.db.query(`SELECT event_id, event_name, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_at,
      received_at, tenant_id, site_id, session_id, user_id, source, attributes, context, payload FROM analytics_events_raw LIMIT 300`)).rows;
    await t.ingestQueue.add('persist-events', { events: stored.map((s) => ({ ...s, received_at: s.received_at.toISOString() })) });
    await drained(t.ingestQueue);
    expect(await snapshot()).toEqual(before);
  });

  it('answers timeseries from the rollups exactly as a brute force over the raw rows, and the same with rollups off', async () => {
    const raw: (Row & { site_id: string; source: string })[] = (await t.db.query('SELECT event_name, attributes, session_id, occurred_at, tenant_id, site_id, source FROM analytics_events_raw WHERE tenant_id = $1', [t.tenant.id])).rows;
    const from = new Date(Date.now() - 3 * DAY).toISOString();
    const to = new Date().toISOString();
    const { createApiApp } = await import('../src/app/bootstrap');
    const { AnalyticsConfig } = await import('../src/modules/config/analytics-config');
    const rawApp = await createApiApp(AnalyticsConfig.fromEnvironment({ ...t.env, ANALYTICS_ENABLE_ROLLUPS: 'false' }));
    await rawApp.listen(0, '127.0.0.1');
    const rawUrl = `http://127.0.0.1:${(rawApp.getHttpServer().address() as { port: number }).port}`;
    try {
      const cases: [string, string, Record<string, string>][] = [
        ['voice.first_response_ms.p95', '1h', {}], ['voice.first_response_ms.p50', '1d', { site_id: SITES[1] }], ['ai.tool_calls.success_rate', '1h', {}],
        ['ai.navigation_optimism_rate', '1d', { source: 'web' }], ['ai.tool_chain_length.avg', '1d', {}], ['kb.hit_rate', '1h', {}], ['kb.hit_rate', '15m', {}],
        ['commerce.conversion_rate', '1d', {}], ['booking.hold_to_confirm_rate', '1d', { site_id: SITES[0], source: 'server' }], ['system.error_rate', '15m', {}],
        ['voice.barge_in_count', '1h', {}], ['kb.search_latency_ms.p99.9', '1d', {}], ['kb.relevance_score.avg', '1h', {}],
      ];
      for (const [metric, grain, filter] of cases) {
        const body = { tenantId: t.tenant.id, metric, from, to, grain, ...filter };
        const res = await t.post('/api/v1/analytics/reports/timeseries', body, t.tenant.report);
        expect([metric, grain, res.status]).toEqual([metric, grain, 200]);
        const grainMs = { '15m': 900_000, '1h': 3_600_000, '1d': DAY }[grain]!;
        expect(res.json.meta.level).toBe(metric.endsWith('_rate') && metric.includes('kb.hit') && grain === '15m' ? 'raw' : grain === '15m' ? 'm' : grain === '1h' ? 'h' : 'd');
        const def = METRICS.find((m) => metric.startsWith(m.name))!;
        for (const point of res.json.points) {
          const start = Date.parse(point.t);
          const rows = raw.filter((x) => x.occurred_at.getTime() >= start && x.occurred_at.getTime() < start + grainMs
            && (!filter.site_id || x.site_id === filter.site_id) && (!filter.source || x.source === filter.source));
          const want = expected(def, rows);
          let value: number | null;
          if (def.aggregation === 'count') value = want.count;
          else if (def.aggregation === 'avg') value = want.count ? want.sum / want.count : null;
          else if (def.aggregation === 'percentile') {
            const sorted = [...want.values].sort((a, b) => a - b);
            const q = { p50: 0.5, p95: 0.95, 'p99.9': 0.999 }[metric.slice(def.name.length + 1)]!;
            value = sorted.length ? sorted[Math.floor(q * (sorted.length - 1))] : null;
          } else value = want.count ? want.num / want.count : null;
          if (value === null || point.value === null) expect([metric, point.t, point.value]).toEqual([metric, point.t, value]);
          else if (def.aggregation === 'percentile') expect(Math.abs(point.value - value) / value).toBeLessThanOrEqual(0.01);
          else expect(point.value).toBeCloseTo(value, 9);
        }
        // the same answer computed from raw events
        const fromRaw = await request(`${rawUrl}/api/v1/analytics/reports/timeseries`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.tenant.report}` }, body: JSON.stringify(body) });
        expect(fromRaw.json.meta.level).toBe('raw');
        expect(fromRaw.json.points.map((p: { value: number | null }) => (p.value === null ? null : Math.round(p.value * 1e9) / 1e9)))
          .toEqual(res.json.points.map((p: { value: number | null }) => (p.value === null ? null : Math.round(p.value * 1e9) / 1e9)));
      }
    } finally {
      await rawApp.close();
    }

    // the summary: several metrics, each one exact value over the whole range
    const dayStart = new Date(Math.floor(Date.now() / DAY) * DAY - 2 * DAY);
    const dayEnd = new Date(dayStart.getTime() + 2 * DAY);
    const inRange = raw.filter((x) => x.occurred_at >= dayStart && x.occurred_at < dayEnd);
    const summary = await t.post('/api/v1/analytics/reports/summary', { tenantId: t.tenant.id, from: dayStart.toISOString(), to: dayEnd.toISOString(),
      metrics: ['ai.tool_calls.count', 'ai.tool_calls.success_rate', 'commerce.conversion_rate', 'voice.first_response_ms.p95'] }, t.tenant.report);
    expect(summary.status).toBe(200);
    expect(summary.json).toMatchObject({ from: dayStart.toISOString(), to: dayEnd.toISOString() });
    const byName = (n: string) => METRICS.find((m) => m.name === n)!;
    expect(summary.json.metrics['ai.tool_calls.count'].value).toBe(expected(byName('ai.tool_calls.count'), inRange).count);
    const sr = expected(byName('ai.tool_calls.success_rate'), inRange);
    expect(summary.json.metrics['ai.tool_calls.success_rate'].value).toBeCloseTo(sr.num / sr.count, 12);
    const conv = expected(byName('commerce.conversion_rate'), inRange); // distinct over two days: counted as one bucket
    expect(summary.json.metrics['commerce.conversion_rate'].value).toBeCloseTo(conv.num / conv.count, 12);
    const lat = [...expected(byName('voice.first_response_ms'), inRange).values].sort((a, b) => a - b);
    const p95 = lat[Math.floor(0.95 * (lat.length - 1))];
    expect(Math.abs(summary.json.metrics['voice.first_response_ms.p95'].value - p95) / p95).toBeLessThanOrEqual(0.01);

    const tooMany = await t.post('/api/v1/analytics/reports/timeseries', { tenantId: t.tenant.id, metric: 'ai.tool_calls.count', from: '2020-01-01T00:00:00Z', to: '2026-01-01T00:00:00Z', grain: '1m' }, t.tenant.report);
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.detail).toMatch(/points at 1m .* the limit is 10000 \(ANALYTICS_MAX_TIMESERIES_POINTS\)/);
    expect((await t.post('/api/v1/analytics/reports/timeseries', { tenantId: t.other.id, metric: 'ai.tool_calls.count', from, to, grain: '1h' }, t.tenant.report)).status).toBe(403);
    expect((await t.post('/api/v1/analytics/reports/timeseries', { tenantId: t.tenant.id, metric: 'ai.tool_calls.p95', from, to, grain: '1h' }, t.tenant.report)).json.detail).toMatch(/^metric must be one of the catalog/);
    const catalog = await t.get('/api/v1/analytics/reports/metrics', t.tenant.report);
    expect(catalog.json.map((m: { name: string }) => m.name)).toContain('commerce.conversion_rate');
  });

  it('gives the hand-computed answers on a small known data set', async () => {
    const at = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000 + 60_000).toISOString();
    const op = t.operator;
    const call = (optimistic: boolean, success: boolean) => makeEvent({ tenant_id: op.id, occurred_at: at, event_name: 'ai.tool_call_completed', attributes: {
      'gen_ai.tool.name': 'navigation.goto', 'gen_ai.tool.call.id': randomUUID(), 'ai.tool.duration_ms': 100, 'ai.tool.success': success,
      'ai.navigation.optimistic': optimistic, ...(success ? {} : { 'error.type': 'timeout' }) } });
    const [A, B, C] = [randomUUID(), randomUUID(), randomUUID()];
    const shop = (name: string, session: string) => makeEvent({ tenant_id: op.id, occurred_at: at, event_name: name, session_id: session });
    const events = [
      call(true, true), call(true, true), call(true, true), call(true, false), call(false, true), call(false, true),
      shop('commerce.view', A), shop('commerce.view', B), shop('commerce.view', C), shop('commerce.checkout', A), shop('commerce.checkout', A), shop('commerce.checkout', B),
      makeEvent({ tenant_id: op.id, occurred_at: at, event_name: 'system.error' }),
      makeEvent({ tenant_id: op.id, occurred_at: at, event_name: 'voice.barge_in' }),
    ];
    expect((await t.post(BATCH, { events }, op.ingest)).json.accepted).toBe(14);
    await drained(t.ingestQueue);
    const hour = new Date(Math.floor(Date.parse(at) / 3_600_000) * 3_600_000);
    const res = await t.post('/api/v1/analytics/reports/summary', { tenantId: op.id, from: hour.toISOString(), to: new Date(hour.getTime() + 3_600_000).toISOString(),
      metrics: ['ai.tool_calls.count', 'ai.tool_calls.success_rate', 'ai.navigation_optimism_rate', 'commerce.conversion_rate', 'system.error_rate', 'voice.barge_in_count'] }, op.report);
    const v = (n: string) => res.json.metrics[n].value;
    expect(v('ai.tool_calls.count')).toBe(6);
    expect(v('ai.tool_calls.success_rate')).toBeCloseTo(5 / 6, 12);
    expect(v('ai.navigation_optimism_rate')).toBeCloseTo(3 / 4, 12);
    expect(v('commerce.conversion_rate')).toBeCloseTo(2 / 3, 12);
    expect(v('system.error_rate')).toBeCloseTo(1 / 14, 12);
    expect(v('voice.barge_in_count')).toBe(1);
  });

  it('answers funnels equal to an exhaustive per-unit walk over the raw rows', async () => {
    const from = new Date(Date.now() - 3 * DAY).toISOString();
    const to = new Date().toISOString();
    const all: { session_id: string | null; user_id: string | null; event_name: string; at: number; event_id: string }[] = (await t.db.query(
      `SELECT session_id::text, user_id, event_name, occurred_at, event_id FROM analytics_events_raw WHERE tenant_id = $1`, [t.tenant.id])).rows
      .map((r) => ({ ...r, at: r.occurred_at.getTime() }));

    /** Exhaustive search, independent of the service's greedy walk: the first deepest chain in index order. */
    const brute = (steps: string[], unit: 'session_id' | 'user_id', windowMs: number, strict: boolean) => {
      const byUnit = new Map<string, typeof all>();
      for (const e of all) if (e[unit]) byUnit.set(e[unit]!, [...(byUnit.get(e[unit]!) ?? []), e]);
      const chains: number[][] = [];
      for (const events of byUnit.values()) {
        events.sort((a, b) => a.at - b.at || (a.event_id < b.event_id ? -1 : 1));
        const seq = strict ? events : events.filter((e) => steps.includes(e.event_name));
        let best: number[] = [];
        const dfs = (k: number, pos: number, start: number, times: number[]) => {
          if (times.length > best.length) best = [...times];
          if (k === steps.length) return;
          for (let j = pos + 1; j < seq.length && seq[j].at - start <= windowMs; j++) {
            if (strict && j !== pos + 1) break;
            if (seq[j].event_name === steps[k]) dfs(k + 1, j, start, [...times, seq[j].at]);
            if (best.length === steps.length) return;
          }
        };
        for (let i = 0; i < seq.length && best.length < steps.length; i++) {
          if (seq[i].event_name === steps[0] && seq[i].at >= Date.parse(from) && seq[i].at <= Date.parse(to)) dfs(1, i, seq[i].at, [seq[i].at]);
        }
        chains.push(best);
      }
      return steps.map((_, k) => chains.filter((c) => c.length > k).length);
    };

    const cases: [string[], 'session_id' | 'user_id', number, 'ordered' | 'strict'][] = [
      [['commerce.view', 'commerce.add_to_cart', 'commerce.checkout'], 'session_id', 3600, 'ordered'],
      [['commerce.view', 'commerce.view', 'commerce.checkout'], 'session_id', 86400, 'ordered'],
      [['kb.search', 'kb.hit'], 'session_id', 600, 'strict'],
      [['voice.turn_started', 'voice.first_response', 'voice.barge_in'], 'session_id', 7200, 'ordered'],
      [['commerce.view', 'commerce.checkout'], 'user_id', 3 * 86400, 'ordered'],
    ];
    for (const [steps, unit, window, order] of cases) {
      const res = await t.post('/api/v1/analytics/reports/funnel', { tenantId: t.tenant.id, steps, from, to, window_seconds: window, unit, order }, t.tenant.report);
      expect([steps.join('>'), res.status]).toEqual([steps.join('>'), 200]);
      const want = brute(steps, unit, window * 1000, order === 'strict');
      expect([steps.join('>'), order, res.json.steps.map((x: { units: number }) => x.units)]).toEqual([steps.join('>'), order, want]);
      expect(want[0]).toBeGreaterThan(0);
    }
    const bad = await t.post('/api/v1/analytics/reports/funnel', { tenantId: t.tenant.id, steps: ['commerce.view'], from, to }, t.tenant.report);
    expect(bad.json.detail).toMatch(/^steps must be 2 to 10 event names/);
  });

  it('gives hand-computed funnel answers: counts, conversions, median times', async () => {
    const base = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3 * 3_600_000;
    const op = t.operator;
    const [A, B, C] = [randomUUID(), randomUUID(), randomUUID()];
    const e = (name: string, session: string, offsetS: number) => makeEvent({ tenant_id: op.id, event_name: name, session_id: session, occurred_at: new Date(base + offsetS * 1000).toISOString() });
    const events = [
      e('commerce.view', A, 0), e('commerce.add_to_cart', A, 60), e('commerce.checkout', A, 180),   // all three
      e('commerce.view', B, 0), e('commerce.add_to_cart', B, 120), e('commerce.checkout', B, 4000), // checkout outside the hour
      e('commerce.view', C, 10),                                                                       // view only
    ];
    expect((await t.post(BATCH, { events }, op.ingest)).json.accepted).toBe(7);
    await drained(t.ingestQueue);
    const res = await t.post('/api/v1/analytics/reports/funnel', { tenantId: op.id, steps: ['commerce.view', 'commerce.add_to_cart', 'commerce.checkout'],
      from: new Date(base - 1000).toISOString(), to: new Date(base + 3_600_000).toISOString() }, op.report);
    expect(res.json.steps).toEqual([
      { step: 1, event: 'commerce.view', units: 3, conversion_from_first: 1, conversion_from_previous: 1, median_ms_from_previous: null },
      { step: 2, event: 'commerce.add_to_cart', units: 2, conversion_from_first: 2 / 3, conversion_from_previous: 2 / 3, median_ms_from_previous: 90_000 },
      { step: 3, event: 'commerce.checkout', units: 1, conversion_from_first: 1 / 3, conversion_from_previous: 1 / 2, median_ms_from_previous: 120_000 },
    ]);
    expect(res.json.meta).toMatchObject({ units: 3, window_seconds: 3600, unit: 'session_id', order: 'ordered' });
  });

  it('cancels a report that runs past the timeout in Postgres and answers 504', async () => {
    const { createApiApp } = await import('../src/app/bootstrap');
    const { AnalyticsConfig } = await import('../src/modules/config/analytics-config');
    const app = await createApiApp(AnalyticsConfig.fromEnvironment({ ...t.env, ANALYTICS_REPORT_TIMEOUT_MS: '300' }));
    await app.listen(0, '127.0.0.1');
    const url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
    const blocker = await t.db.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE analytics_rollups IN ACCESS EXCLUSIVE MODE'); // the report's read waits, then times out
      const started = Date.now();
      const res = await request(`${url}/api/v1/analytics/reports/timeseries`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.tenant.report}` },
        body: JSON.stringify({ tenantId: t.tenant.id, metric: 'ai.tool_calls.count', from: new Date(Date.now() - DAY).toISOString(), to: new Date().toISOString(), grain: '1h' }) });
      expect(res.status).toBe(504);
      expect(res.json).toMatchObject({ title: 'Report timed out', status: 504 });
      expect(res.json.detail).toMatch(/ran past 300 ms \(ANALYTICS_REPORT_TIMEOUT_MS\) and was cancelled in Postgres/);
      expect(Date.now() - started).toBeLessThan(5000);
      const waiting = await t.db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%analytics_rollups%'`);
      expect(waiting.rows[0].n).toBe(0); // cancelled, not left waiting
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
      await app.close();
    }
  });
});
