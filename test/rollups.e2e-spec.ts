import { randomUUID } from 'node:crypto';
import { BUILTIN_EVENTS, TURN_END_REASONS } from '../src/modules/schema-registry/builtin-events';
import { usageLines } from '../src/modules/costs/usage-lines';
import { DDSketch } from '../src/modules/rollups/ddsketch';
import { METRICS, metricNames, resolveMetric } from '../src/modules/rollups/metric-catalog';
import { RollupFolder } from '../src/modules/rollups/rollup-folder';
import { BATCH, makeEvent, waitFor } from './support/events';
import { rng } from './support/hostile';
import { countRows, settled } from './support/queue';
import { TestEnv, createTestEnv, request } from './support/test-env';

const ALL_SITES = 'ffffffff-ffff-ffff-ffff-ffffffffffff';
const SITES = [
  '5f0c3a52-7d2e-4b8f-a1c9-0e6d4b2a8f31',
  '6a1d4b63-8e3f-4c9a-b2da-1f7e5c3b9a42',
  '7b2e5c74-9f4a-4dab-83eb-2a8f6d4cab53',
];
const SOURCES = ['web', 'widget', 'server'] as const;
const DAY = 86_400_000;
const SPAN = 3 * DAY;
const EVENTS_PER_TENANT = 50_000;
const GRAIN_MS: Record<string, number> = { '1m': 60_000, '5m': 300_000, '15m': 900_000, '1h': 3_600_000, '1d': DAY };

/** A random but valid event of any built-in type, with varied numbers, hits and outcomes. */
function randomEvent(
  r: ReturnType<typeof rng>,
  tenant: string,
  session: { id: string; user: string; site: string; source: string },
  at: number,
): Record<string, unknown> {
  const type = r.pick(BUILTIN_EVENTS);
  const attributes: Record<string, unknown> = structuredClone(type.example);
  const num = (lo: number, hi: number) => Math.round((lo + r.next() * (hi - lo)) * 100) / 100;
  if (type.name === 'voice.first_response')
    attributes['voice.first_response_ms'] = r.chance(0.8) ? num(150, 900) : num(1500, 6000);
  if (type.name === 'voice.asr_partial') attributes['voice.asr_latency_ms'] = num(10, 300);
  if (type.name === 'kb.search') {
    attributes['kb.latency_ms'] = num(5, 400);
    attributes['kb.search_id'] = `s-${r.int(300)}`;
  }
  if (type.name === 'kb.hit') {
    attributes['kb.search_id'] = `s-${r.int(300)}`;
    attributes['kb.relevance_score'] = num(0, 1);
  }
  if (type.name === 'ai.tool_call_completed') {
    attributes['ai.tool.success'] = r.chance(0.85);
    if (!attributes['ai.tool.success']) attributes['error.type'] = 'timeout';
    if (r.chance(0.9)) attributes['ai.navigation.optimistic'] = r.chance(0.5);
  }
  if (type.name === 'ai.tool_chain_completed') attributes['ai.tool_chain.length'] = 1 + r.int(6);
  if (type.name === 'ai.llm_call_completed') {
    attributes['ai.llm.time_to_first_token_ms'] = num(80, 2500);
    attributes['ai.llm.duration_ms'] = num(300, 9000);
    attributes['gen_ai.usage.input_tokens'] = 50 + r.int(4000);
    if (r.chance(0.9)) attributes['gen_ai.usage.output_tokens'] = r.int(800);
    else delete attributes['gen_ai.usage.output_tokens'];
  }
  if (type.name === 'voice.turn_completed') {
    for (const a of Object.keys(attributes)) if (a.startsWith('voice.latency.')) delete attributes[a];
    for (const [a, lo, hi] of [
      ['voice.latency.endpoint_ms', 50, 900],
      ['voice.latency.stt_final_ms', 30, 600],
      ['voice.latency.llm_ttft_ms', 80, 2500],
      ['voice.latency.tool_ms', 10, 3000],
      ['voice.latency.tts_ttfb_ms', 40, 700],
      ['voice.latency.playout_ms', 5, 200],
      ['voice.latency.e2e_ms', 300, 6000],
    ] as const)
      if (r.chance(0.85)) attributes[a] = num(lo, hi); // stages a client does not measure are left out
    attributes['voice.turn.end_reason'] = r.pick(TURN_END_REASONS);
    attributes['gen_ai.conversation.id'] = `conv-${r.int(400)}`;
    attributes['voice.turn_id'] = `t-${r.int(8)}`;
    if (r.chance(0.4)) {
      attributes['voice.barge_in.by'] = r.pick(['user', 'agent']);
      attributes['voice.barge_in.yield_ms'] = num(20, 900);
      attributes['voice.barge_in.resumed'] = r.chance(0.3);
    }
    attributes['voice.stt.audio_ms'] = r.int(20_000);
    attributes['voice.tts.characters'] = r.int(400);
  }
  if (type.name === 'ai.llm_call_completed') {
    attributes['gen_ai.conversation.id'] = `conv-${r.int(400)}`;
    if (r.chance(0.5)) attributes['voice.turn_id'] = `t-${r.int(8)}`;
    attributes['gen_ai.usage.cache_read.input_tokens'] = r.int(50);
    if (r.chance(0.3)) attributes['gen_ai.usage.reasoning.output_tokens'] = r.int(5);
  }
  if (type.name === 'booking.slot_hold' || type.name === 'booking.confirmed')
    attributes['booking.hold_id'] = `h-${r.int(200)}`;
  return makeEvent({
    tenant_id: tenant,
    event_name: type.name,
    attributes,
    session_id: session.id,
    user_id: session.user,
    site_id: session.site,
    source: session.source,
    occurred_at: new Date(at).toISOString(),
  });
}

/**
 * One tenant's random data set: sessions of about 40 events within two hours each, spread over
 * the last three days, on three sites and three sources, shared by a few hundred users; sent
 * in time order, as a live service receives them.
 */
function randomDataSet(r: ReturnType<typeof rng>, tenant: string, now: number): Record<string, unknown>[] {
  const users = Array.from({ length: 300 }, (_, i) => `u-${i}`);
  const out: { at: number; e: Record<string, unknown> }[] = [];
  while (out.length < EVENTS_PER_TENANT) {
    const session = { id: randomUUID(), user: r.pick(users), site: r.pick(SITES), source: r.pick(SOURCES) };
    const start = now - SPAN + r.int(SPAN - 2 * 3_600_000);
    for (let i = 0, n = Math.min(20 + r.int(40), EVENTS_PER_TENANT - out.length); i < n; i++) {
      const at = start + r.int(2 * 3_600_000);
      out.push({ at, e: randomEvent(r, tenant, session, at) });
    }
  }
  return out.sort((a, b) => a.at - b.at).map((x) => x.e);
}

/** The test's price book: per unit, the price of a million units, and what it is keyed by. */
const PRICES: Record<string, string> = {
  input_token: '0.15',
  output_token: '0.6',
  cache_read_token: '0.075',
  cache_write_token: '0.1875',
  reasoning_token: '0.6',
  audio_input_token: '10',
  audio_output_token: '20',
  stt_second: '100',
  tts_character: '30',
  tool_call: '7.5',
};
const PRICED_BY: Record<string, Record<string, string>> = {
  stt_second: { provider: 'deepgram' },
  tts_character: { provider: 'elevenlabs' },
  tool_call: { model: 'navigation.goto' },
};
for (const u of Object.keys(PRICES)) PRICED_BY[u] ??= { model: 'gpt-4o-mini' };

/** Brute-force cost of some rows in micro-units, with BigInt at 10^-18 of the currency: [micro-units, units]. */
function expectedCost(
  kind: 'total' | 'per_conversation' | 'per_turn',
  rows: (Row & { site_id: string; source: string })[],
): { value: number | null; count: number } {
  const big = (d: string, scale: number) => {
    const [i, f = ''] = d.split('.');
    return BigInt(i + f.padEnd(scale, '0'));
  };
  let cost = 0n; // quantity (3 decimals) × price per million (12 decimals): 10^-15 micro-units
  const units = new Set<string>();
  let lines = 0;
  for (const row of rows) {
    for (const l of usageLines({ ...row, occurred_at: row.occurred_at.toISOString() })) {
      if (kind === 'per_conversation' && l.conversation_id === null) continue;
      if (kind === 'per_turn' && l.turn_id === null) continue;
      lines++;
      units.add(kind === 'per_conversation' ? l.conversation_id! : `${l.conversation_id ?? ''}/${l.turn_id}`);
      cost += big(l.quantity, 3) * big(PRICES[l.unit], 12);
    }
  }

  const micros = Number(cost) / 1e15;
  const count = kind === 'total' ? lines : units.size;
  if (kind === 'total') return { value: micros, count };
  return { value: count ? micros / count : null, count };
}

/** The exact q-quantile by nearest rank (docs/metrics.md): the value at 1-based rank ⌈q·n⌉ of the sorted values. */
function nearestRank(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length - 1e-9))) - 1];
}

interface Row {
  event_name: string;
  attributes: Record<string, unknown>;
  session_id: string | null;
  occurred_at: Date;
  tenant_id: string;
}

/** Brute force, written independently of the fold: the expected value of a metric over some rows. */
function expected(
  metric: (typeof METRICS)[number],
  rows: Row[],
): { count: number; num: number; sum: number; values: number[] } {
  const sel = (s: { event: string; where?: { attribute: string; equals: unknown }[] }, row: Row) =>
    (s.event === '*' || s.event === row.event_name) &&
    (s.where ?? []).every((w) => row.attributes[w.attribute] === w.equals);
  const unit = (name: string, row: Row) => (name === 'session_id' ? row.session_id : row.attributes[name]);
  if (metric.aggregation === 'distinct_rate') {
    const den = new Set(rows.filter((x) => sel(metric.of, x)).map((x) => unit(metric.of.distinct!, x)));
    const num = new Set(rows.filter((x) => sel(metric.numerator!, x)).map((x) => unit(metric.numerator!.distinct!, x)));
    return { count: den.size, num: num.size, sum: 0, values: [] };
  }
  const of = rows.filter(
    (x) => sel(metric.of, x) && (!metric.attribute || typeof x.attributes[metric.attribute] === 'number'),
  );
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
  let batches: Record<string, unknown>[][];
  type RawRow = Row & { site_id: string; source: string; user_id: string | null; event_id: string };
  const raw = new Map<string, RawRow[]>(); // per tenant, read back from Postgres
  const now = Date.now();

  beforeAll(async () => {
    // A keep-alive longer than the file: the brute force between two reports can hold the event
    // loop (shared with the in-process api) past the server's idle timeout, which then closed the
    // connection the next request was reusing.
    t = await createTestEnv({
      ANALYTICS_RATE_LIMIT_RPS: '100000',
      ANALYTICS_RATE_LIMIT_EPS: '10000000',
      ANALYTICS_HTTP_KEEP_ALIVE_TIMEOUT_MS: '600000',
    });
    // Every usage the data set makes has a price, so each bucket's cost is known and checked exactly.
    for (const tenant of [t.tenant, t.other]) {
      const res = await t.post(
        '/api/v1/analytics/price-books',
        {
          currency: 'USD',
          valid_from: new Date(now - SPAN - DAY).toISOString(),
          prices: Object.entries(PRICES).map(([unit, price]) => ({ ...PRICED_BY[unit], unit, price, per: 1_000_000 })),
        },
        tenant.admin,
      );
      expect(res.status).toBe(201);
    }
    const r = rng(7);
    batches = [];
    for (const tenant of [t.tenant, t.other]) {
      const events = randomDataSet(r, tenant.id, now);
      for (let i = 0; i < events.length; i += 500) batches.push(events.slice(i, i + 500));
    }
    // two requests in flight at a time, each answered with every event accepted
    for (let i = 0; i < batches.length; i += 2) {
      await Promise.all(
        batches.slice(i, i + 2).map(async (b) => {
          const key = (b[0].tenant_id === t.tenant.id ? t.tenant : t.other).ingest;
          const res = await t.post(BATCH, { events: b }, key);
          expect([res.status, res.json.accepted]).toEqual([202, b.length]);
        }),
      );
    }
    const sent = Date.now();
    await settled(t, 240_000);
    console.log(`ingested ${batches.length} batches; drained ${Date.now() - sent} ms after the last answer`);
    for (const tenant of [t.tenant.id, t.other.id]) {
      raw.set(
        tenant,
        (
          await t.db.query(
            `SELECT event_id, event_name, attributes, session_id::text, user_id, occurred_at, tenant_id, site_id, source
        FROM analytics_events_raw WHERE tenant_id = $1`,
            [tenant],
          )
        ).rows,
      );
    }
  }, 300_000);
  afterAll(async () => {
    await t.close();
  });

  it(`folds ${2 * EVENTS_PER_TENANT} random events of every type into day and hour rollups that match the raw rows`, async () => {
    expect(await countRows(t.db)).toBe(2 * EVENTS_PER_TENANT);
    expect(new Set(raw.get(t.tenant.id)!.map((x) => x.event_name)).size).toBe(BUILTIN_EVENTS.length);

    // A digest of every rollup row and distinct member, to show later that nothing changed.
    const snapshot = async () =>
      (
        await t.db.query(`SELECT
      (SELECT count(*) FROM analytics_rollups) AS rows, (SELECT count(*) FROM analytics_rollup_members) AS members,
      (SELECT md5(string_agg(r::text, ',' ORDER BY tenant_id, metric, level, site_id, source, bucket)) FROM analytics_rollups r) AS rollups,
      (SELECT md5(string_agg(m::text, ',' ORDER BY m)) FROM analytics_rollup_members m) AS member_digest`)
      ).rows[0];
    const before = await snapshot();
    expect(Number(before.rows)).toBeGreaterThan(10_000);
    const dayRows = (
      await t.db.query(
        `SELECT tenant_id, metric, level, site_id, source, bucket, count, num, sum, min, max, sketch FROM analytics_rollups WHERE level = 'd'`,
      )
    ).rows;

    // Brute force per tenant, per day bucket, over all sites and sources, and per site and source.
    let compared = 0;
    for (const tenant of [t.tenant.id, t.other.id]) {
      for (const [site, source] of [
        [ALL_SITES, '*'],
        [SITES[0], 'web'],
        [SITES[1], '*'],
        [ALL_SITES, 'server'],
      ]) {
        const scoped = raw
          .get(tenant)!
          .filter((x) => (site === ALL_SITES || x.site_id === site) && (source === '*' || x.source === source));
        const days = [
          ...new Set(scoped.map((x) => new Date(Math.floor(x.occurred_at.getTime() / DAY) * DAY).toISOString())),
        ];
        for (const day of days) {
          const inDay = scoped.filter(
            (x) => new Date(Math.floor(x.occurred_at.getTime() / DAY) * DAY).toISOString() === day,
          );
          for (const m of METRICS) {
            if (m.aggregation === 'cost') continue; // priced usage lines, not rollup rows: checked through the timeseries below
            const want = expected(m, inDay);
            const row = dayRows.find(
              (x) =>
                x.tenant_id === tenant &&
                x.metric === m.name &&
                x.site_id === site &&
                x.source === source &&
                x.bucket.toISOString() === day,
            );
            if (want.count === 0 && want.num === 0) {
              expect([m.name, row]).toEqual([m.name, undefined]);
              continue;
            }
            expect([m.name, day, Number(row.count), Number(row.num)]).toEqual([m.name, day, want.count, want.num]);
            if (m.aggregation === 'avg' || m.aggregation === 'sum') expect(row.sum).toBeCloseTo(want.sum, 6);
            if (m.aggregation === 'percentile') {
              const sorted = [...want.values].sort((a, b) => a - b);
              const sketch = DDSketch.decode(row.sketch);
              expect([m.name, day, sketch.count]).toEqual([m.name, day, Number(row.count)]); // every merge kept every value
              for (const q of [0.5, 0.95, 0.99]) {
                const truth = nearestRank(sorted, q);
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
    expect(compared).toBeGreaterThan(300);
    // hours add up to days
    const hoursVsDays = await t.db.query(`
      SELECT d.tenant_id, d.metric, d.site_id, d.source, d.bucket, d.count AS day_count, sum(h.count) AS hour_count FROM analytics_rollups d
      JOIN analytics_rollups h ON h.tenant_id = d.tenant_id AND h.metric = d.metric AND h.level = 'h' AND h.site_id = d.site_id AND h.source = d.source
        AND h.bucket >= d.bucket AND h.bucket < d.bucket + interval '1 day'
      WHERE d.level = 'd' AND d.metric NOT IN ('kb.hit_rate', 'commerce.conversion_rate', 'booking.hold_to_confirm_rate')
      GROUP BY 1, 2, 3, 4, 5, 6 HAVING d.count <> sum(h.count)`);
    expect(hoursVsDays.rows).toEqual([]);

    // Duplicates, and a job run twice, change no rollup. The first batches were sent long enough ago
    // that Redis may have forgotten them; then the ledger refuses them in the worker.
    for (const b of [...batches.slice(0, 2), batches[batches.length - 1]]) {
      const key = (b[0].tenant_id === t.tenant.id ? t.tenant : t.other).ingest;
      const again = await t.post(BATCH, { events: b }, key);
      expect([again.status, again.json.accepted + again.json.duplicate, again.json.rejected]).toEqual([
        202,
        b.length,
        0,
      ]);
    }
    const stored = (
      await t.db
        .query(`SELECT event_id, event_name, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_at,
      received_at, tenant_id, site_id, session_id, user_id, source, attributes, context, payload FROM analytics_events_raw LIMIT 300`)
    ).rows;
    await t.ingestQueue.add('persist-events', {
      events: stored.map((s) => ({ ...s, received_at: s.received_at.toISOString() })),
    });
    await settled(t);
    expect(await countRows(t.db)).toBe(2 * EVENTS_PER_TENANT);
    expect(await snapshot()).toEqual(before);

    // Concurrent jobs shared searches, holds and rollup rows, and took their locks in one order.
    await t.db.query('SELECT pg_stat_force_next_flush()');
    expect(
      (await t.db.query('SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()')).rows[0].deadlocks,
    ).toBe('0');
  }, 120_000);

  it('answers every metric at every grain as a brute force over the raw rows, for each tenant and filter, and the same with rollups off', async () => {
    const from = new Date(now - SPAN).toISOString();
    const to = new Date(now).toISOString();
    const { createApiApp } = await import('../src/app/bootstrap');
    const { AnalyticsConfig } = await import('../src/modules/config/analytics-config');
    const rawApp = await createApiApp(AnalyticsConfig.fromEnvironment({ ...t.env, ANALYTICS_ENABLE_ROLLUPS: 'false' }));
    await rawApp.listen(0, '127.0.0.1');
    const rawUrl = `http://127.0.0.1:${(rawApp.getHttpServer().address() as { port: number }).port}`;
    const rounded = (points: { value: number | null }[]) =>
      points.map((p) => (p.value === null ? null : Math.round(p.value * 1e9) / 1e9));
    let points = 0;
    let nonEmpty = 0;
    try {
      const names = metricNames();
      expect(names).toHaveLength(32 + 13 * 6);
      // every metric at every grain for one tenant; the other tenant and the filters at some grains each
      const cases: [string, Record<string, string>, string[]][] = [
        [t.tenant.id, {}, Object.keys(GRAIN_MS)],
        [t.other.id, {}, ['1m', '1d']],
        [t.tenant.id, { site_id: SITES[1] }, ['15m', '1h']],
        [t.other.id, { source: 'widget' }, ['5m', '1d']],
        [t.tenant.id, { site_id: SITES[2], source: 'server' }, ['1m', '1h']],
      ];
      for (const [tenant, filter, grains] of cases) {
        const key = tenant === t.tenant.id ? t.tenant.report : t.other.report;
        const rows = raw
          .get(tenant)!
          .filter(
            (x) => (!filter.site_id || x.site_id === filter.site_id) && (!filter.source || x.source === filter.source),
          );
        for (const grain of grains) {
          const grainMs = GRAIN_MS[grain];
          const byBucket = new Map<number, RawRow[]>();
          for (const x of rows) {
            const b = Math.floor(x.occurred_at.getTime() / grainMs) * grainMs;
            let list = byBucket.get(b);
            if (!list) byBucket.set(b, (list = []));
            list.push(x);
          }
          for (const metric of names) {
            const body = { tenantId: tenant, metric, from, to, grain, ...filter };
            const res = await t.post('/api/v1/analytics/reports/timeseries', body, key);
            const label = `${metric} ${grain} ${JSON.stringify(filter)}`;
            expect([label, res.status]).toEqual([label, 200]);
            const { definition: def, quantile } = resolveMetric(metric)!;
            const wantLevel =
              def.aggregation === 'cost'
                ? 'usage'
                : def.aggregation === 'distinct_rate' && ['5m', '15m'].includes(grain)
                  ? 'raw'
                  : grain === '1h'
                    ? 'h'
                    : grain === '1d'
                      ? 'd'
                      : 'm';
            expect([label, res.json.meta.level, res.json.meta.buckets]).toEqual([
              label,
              wantLevel,
              res.json.points.length,
            ]);
            expect(res.json.points[0].t).toBe(new Date(Math.floor((now - SPAN) / grainMs) * grainMs).toISOString()); // every bucket present
            for (const point of res.json.points) {
              if (def.aggregation === 'cost') {
                const c = expectedCost(def.cost!, byBucket.get(Date.parse(point.t)) ?? []);
                points++;
                if (c.value !== null) nonEmpty++;
                const close =
                  c.value === null || point.value === null
                    ? c.value === point.value
                    : Math.abs(point.value - c.value) <= 1e-9 * Math.max(1, c.value);
                if (!close || point.count !== c.count)
                  expect([label, point.t, point.value, point.count]).toEqual([label, point.t, c.value, c.count]);
                continue;
              }
              const want = expected(def, byBucket.get(Date.parse(point.t)) ?? []);
              let value: number | null;
              if (def.aggregation === 'count') value = want.count;
              else if (def.aggregation === 'sum') value = want.sum;
              else if (def.aggregation === 'avg') value = want.count ? want.sum / want.count : null;
              else if (def.aggregation === 'percentile') {
                const sorted = [...want.values].sort((x, y) => x - y);
                value = sorted.length ? nearestRank(sorted, quantile!) : null;
              } else value = want.count ? want.num / want.count : null;
              points++;
              if (value === null || point.value === null) {
                expect([label, point.t, point.value]).toEqual([label, point.t, value]);
                continue;
              }
              nonEmpty++;
              if (def.aggregation === 'percentile') {
                if (Math.abs(point.value - value) / value > 0.01)
                  expect([label, point.t, point.value]).toEqual([label, point.t, value]);
              } else if (Math.abs(point.value - value) > 1e-9)
                expect([label, point.t, point.value]).toEqual([label, point.t, value]);
            }
            if (tenant === t.tenant.id && !filter.site_id && !filter.source) {
              // the same answer computed from raw events, with rollups off
              const fromRaw = await request(`${rawUrl}/api/v1/analytics/reports/timeseries`, {
                method: 'POST',
                headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
                body: JSON.stringify(body),
              });
              // costs come from the priced usage lines, rollups or not
              expect([label, fromRaw.json.meta.level]).toEqual([label, def.aggregation === 'cost' ? 'usage' : 'raw']);
              expect([label, rounded(fromRaw.json.points)]).toEqual([label, rounded(res.json.points)]);
            }
          }
        }
      }
    } finally {
      await rawApp.close();
    }
    expect(points).toBeGreaterThan(300_000);
    expect(nonEmpty).toBeGreaterThan(50_000);

    const raw0 = raw.get(t.tenant.id)!;
    // the summary: several metrics, each one exact value over the whole range
    const dayStart = new Date(Math.floor(Date.now() / DAY) * DAY - 2 * DAY);
    const dayEnd = new Date(dayStart.getTime() + 2 * DAY);
    const inRange = raw0.filter((x) => x.occurred_at >= dayStart && x.occurred_at < dayEnd);
    const summary = await t.post(
      '/api/v1/analytics/reports/summary',
      {
        tenantId: t.tenant.id,
        from: dayStart.toISOString(),
        to: dayEnd.toISOString(),
        metrics: [
          'ai.tool_calls.count',
          'ai.tool_calls.success_rate',
          'commerce.conversion_rate',
          'voice.first_response_ms.p95',
        ],
      },
      t.tenant.report,
    );
    expect(summary.status).toBe(200);
    expect(summary.json).toMatchObject({ from: dayStart.toISOString(), to: dayEnd.toISOString() });
    const byName = (n: string) => METRICS.find((m) => m.name === n)!;
    expect(summary.json.metrics['ai.tool_calls.count'].value).toBe(
      expected(byName('ai.tool_calls.count'), inRange).count,
    );
    const sr = expected(byName('ai.tool_calls.success_rate'), inRange);
    expect(summary.json.metrics['ai.tool_calls.success_rate'].value).toBeCloseTo(sr.num / sr.count, 12);
    const conv = expected(byName('commerce.conversion_rate'), inRange); // distinct over two days: counted as one bucket
    expect(summary.json.metrics['commerce.conversion_rate'].value).toBeCloseTo(conv.num / conv.count, 12);
    const lat = [...expected(byName('voice.first_response_ms'), inRange).values].sort((a, b) => a - b);
    const p95 = nearestRank(lat, 0.95);
    expect(Math.abs(summary.json.metrics['voice.first_response_ms.p95'].value - p95) / p95).toBeLessThanOrEqual(0.01);

    const tooMany = await t.post(
      '/api/v1/analytics/reports/timeseries',
      {
        tenantId: t.tenant.id,
        metric: 'ai.tool_calls.count',
        from: '2020-01-01T00:00:00Z',
        to: '2026-01-01T00:00:00Z',
        grain: '1m',
      },
      t.tenant.report,
    );
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.detail).toMatch(/points at 1m .* the limit is 10000 \(ANALYTICS_MAX_TIMESERIES_POINTS\)/);
    expect(
      (
        await t.post(
          '/api/v1/analytics/reports/timeseries',
          { tenantId: t.other.id, metric: 'ai.tool_calls.count', from, to, grain: '1h' },
          t.tenant.report,
        )
      ).status,
    ).toBe(403);
    expect(
      (
        await t.post(
          '/api/v1/analytics/reports/timeseries',
          { tenantId: t.tenant.id, metric: 'ai.tool_calls.p95', from, to, grain: '1h' },
          t.tenant.report,
        )
      ).json.detail,
    ).toMatch(/^metric must be one of the catalog/);
    const catalog = await t.get('/api/v1/analytics/reports/metrics', t.tenant.report);
    expect(catalog.json.map((m: { name: string }) => m.name)).toContain('commerce.conversion_rate');
  }, 900_000); // every metric of the grown catalog at every grain: 4 to 8 minutes on a loaded machine

  it('gives the hand-computed answers on a small known data set', async () => {
    const at = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000 + 60_000).toISOString();
    const op = t.operator;
    const call = (optimistic: boolean, success: boolean) =>
      makeEvent({
        tenant_id: op.id,
        occurred_at: at,
        event_name: 'ai.tool_call_completed',
        attributes: {
          'gen_ai.tool.name': 'navigation.goto',
          'gen_ai.tool.call.id': randomUUID(),
          'ai.tool.duration_ms': 100,
          'ai.tool.success': success,
          'ai.navigation.optimistic': optimistic,
          ...(success ? {} : { 'error.type': 'timeout' }),
        },
      });
    const [A, B, C] = [randomUUID(), randomUUID(), randomUUID()];
    const shop = (name: string, session: string) =>
      makeEvent({ tenant_id: op.id, occurred_at: at, event_name: name, session_id: session });
    const events = [
      call(true, true),
      call(true, true),
      call(true, true),
      call(true, false),
      call(false, true),
      call(false, true),
      shop('commerce.view', A),
      shop('commerce.view', B),
      shop('commerce.view', C),
      shop('commerce.checkout', A),
      shop('commerce.checkout', A),
      shop('commerce.checkout', B),
      makeEvent({ tenant_id: op.id, occurred_at: at, event_name: 'system.error' }),
      makeEvent({ tenant_id: op.id, occurred_at: at, event_name: 'voice.barge_in' }),
    ];
    expect((await t.post(BATCH, { events }, op.ingest)).json.accepted).toBe(14);
    await settled(t);
    const hour = new Date(Math.floor(Date.parse(at) / 3_600_000) * 3_600_000);
    const res = await t.post(
      '/api/v1/analytics/reports/summary',
      {
        tenantId: op.id,
        from: hour.toISOString(),
        to: new Date(hour.getTime() + 3_600_000).toISOString(),
        metrics: [
          'ai.tool_calls.count',
          'ai.tool_calls.success_rate',
          'ai.navigation_optimism_rate',
          'commerce.conversion_rate',
          'system.error_rate',
          'voice.barge_in_count',
        ],
      },
      op.report,
    );
    const v = (n: string) => res.json.metrics[n].value;
    expect(v('ai.tool_calls.count')).toBe(6);
    expect(v('ai.tool_calls.success_rate')).toBeCloseTo(5 / 6, 12);
    expect(v('ai.navigation_optimism_rate')).toBeCloseTo(3 / 4, 12);
    expect(v('commerce.conversion_rate')).toBeCloseTo(2 / 3, 12);
    expect(v('system.error_rate')).toBeCloseTo(1 / 14, 12);
    expect(v('voice.barge_in_count')).toBe(1);
  });

  it('answers funnels equal to an exhaustive per-unit walk over the raw rows', async () => {
    const from = new Date(now - SPAN).toISOString();
    const to = new Date(now).toISOString();
    type Ev = { session_id: string | null; user_id: string | null; event_name: string; at: number; event_id: string };

    /** Exhaustive search, independent of the service's greedy walk: the first deepest chain in index order. */
    const brute = (all: Ev[], steps: string[], unit: 'session_id' | 'user_id', windowMs: number, strict: boolean) => {
      const byUnit = new Map<string, Ev[]>();
      for (const e of all) {
        if (!e[unit]) continue;
        let list = byUnit.get(e[unit]);
        if (!list) byUnit.set(e[unit], (list = []));
        list.push(e);
      }
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
          if (seq[i].event_name === steps[0] && seq[i].at >= Date.parse(from) && seq[i].at <= Date.parse(to))
            dfs(1, i, seq[i].at, [seq[i].at]);
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
      [['booking.slot_hold', 'booking.confirmed', 'commerce.checkout', 'system.error'], 'user_id', 1800, 'ordered'],
    ];
    for (const tenant of [t.tenant, t.other]) {
      const all: Ev[] = raw.get(tenant.id)!.map((r) => ({
        session_id: r.session_id,
        user_id: r.user_id,
        event_name: r.event_name,
        at: r.occurred_at.getTime(),
        event_id: r.event_id,
      }));
      for (const [steps, unit, window, order] of cases) {
        const res = await t.post(
          '/api/v1/analytics/reports/funnel',
          { tenantId: tenant.id, steps, from, to, window_seconds: window, unit, order },
          tenant.report,
        );
        expect([steps.join('>'), res.status]).toEqual([steps.join('>'), 200]);
        const want = brute(all, steps, unit, window * 1000, order === 'strict');
        expect([steps.join('>'), order, res.json.steps.map((x: { units: number }) => x.units)]).toEqual([
          steps.join('>'),
          order,
          want,
        ]);
        expect(want[want.length - 1]).toBeGreaterThan(0);
      }
    }
    const bad = await t.post(
      '/api/v1/analytics/reports/funnel',
      { tenantId: t.tenant.id, steps: ['commerce.view'], from, to },
      t.tenant.report,
    );
    expect(bad.json.detail).toMatch(/^steps must be 2 to 10 event names/);
  });

  it('folds a stored event exactly once even when a fold round fails: its events stay pending until a round succeeds', async () => {
    const op = t.operator;
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 5 * 3_600_000;
    const at = new Date(hour + 90_000).toISOString();
    const count = async () =>
      Number(
        (
          await t.db.query(
            `SELECT coalesce(sum(count), 0) AS n FROM analytics_rollups WHERE tenant_id = $1 AND metric = 'voice.barge_in_count' AND level = 'h' AND site_id = $2 AND source = '*' AND bucket = $3`,
            [op.id, ALL_SITES, new Date(hour)],
          )
        ).rows[0].n,
      );
    const before = await count();
    // every rollup write fails while this constraint stands (it checks new rows only)
    await t.db.query(
      `ALTER TABLE analytics_rollups ADD CONSTRAINT fold_blocked CHECK (metric <> 'voice.barge_in_count') NOT VALID`,
    );
    try {
      const events = Array.from({ length: 7 }, () =>
        makeEvent({ tenant_id: op.id, occurred_at: at, event_name: 'voice.barge_in' }),
      );
      expect((await t.post(BATCH, { events }, op.ingest)).json.accepted).toBe(7);
      await waitFor(
        'the events to be stored',
        async () =>
          (await countRows(t.db, 'tenant_id = $1 AND event_name = $2 AND occurred_at = $3', [
            op.id,
            'voice.barge_in',
            at,
          ])) === 7,
      );
      // Fold rounds that began after the events were stored fail on the constraint, and leave them pending.
      const folder = t.worker!.get(RollupFolder);
      const failed: string[] = [];
      const round = folder.round.bind(folder);
      folder.round = () =>
        round().catch((err: Error) => {
          failed.push(err.message);
          throw err;
        });
      try {
        await waitFor('two fold rounds to fail', () => failed.length >= 2);
      } finally {
        delete (folder as Partial<RollupFolder>).round;
      }
      expect(failed.every((m) => m.includes('fold_blocked'))).toBe(true);
      const pending = async (tenant?: string) =>
        Number(
          (
            await t.db.query(
              'SELECT count(*) AS n FROM analytics_rollup_pending WHERE $1::uuid IS NULL OR tenant_id = $1',
              [tenant ?? null],
            )
          ).rows[0].n,
        );
      expect(await pending(op.id)).toBe(7);
      expect(await count()).toBe(before);
      // operators see the fold's lag: every event left pending, while no round can fold
      const stats = await t.get('/api/v1/analytics/stats', op.admin);
      expect(stats.json.service.rollups).toEqual({ enabled: true, pending_events: await pending() });
    } finally {
      await t.db.query('ALTER TABLE analytics_rollups DROP CONSTRAINT fold_blocked');
    }
    await settled(t);
    expect(await count()).toBe(before + 7);
    expect((await t.get('/api/v1/analytics/stats', op.admin)).json.service.rollups.pending_events).toBe(0);
  });

  it('gives hand-computed funnel answers: counts, conversions, median times', async () => {
    const base = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3 * 3_600_000;
    const op = t.operator;
    const [A, B, C] = [randomUUID(), randomUUID(), randomUUID()];
    const e = (name: string, session: string, offsetS: number) =>
      makeEvent({
        tenant_id: op.id,
        event_name: name,
        session_id: session,
        occurred_at: new Date(base + offsetS * 1000).toISOString(),
      });
    const events = [
      e('commerce.view', A, 0),
      e('commerce.add_to_cart', A, 60),
      e('commerce.checkout', A, 180), // all three
      e('commerce.view', B, 0),
      e('commerce.add_to_cart', B, 120),
      e('commerce.checkout', B, 4000), // checkout outside the hour
      e('commerce.view', C, 10), // view only
    ];
    expect((await t.post(BATCH, { events }, op.ingest)).json.accepted).toBe(7);
    await settled(t);
    const res = await t.post(
      '/api/v1/analytics/reports/funnel',
      {
        tenantId: op.id,
        steps: ['commerce.view', 'commerce.add_to_cart', 'commerce.checkout'],
        from: new Date(base - 1000).toISOString(),
        to: new Date(base + 3_600_000).toISOString(),
      },
      op.report,
    );
    type Answer = {
      time_to_convert: Record<
        string,
        { histogram: { from_ms: number; units: number }[] } & Record<string, number>
      > | null;
    };
    const steps = res.json.steps as Answer[];
    expect(steps.map(({ time_to_convert: _, ...rest }) => rest)).toEqual([
      {
        step: 1,
        event: 'commerce.view',
        events: ['commerce.view'],
        optional: false,
        units: 3,
        conversion_from_first: 1,
        conversion_from_previous: 1,
        median_ms_from_previous: null,
      },
      {
        step: 2,
        event: 'commerce.add_to_cart',
        events: ['commerce.add_to_cart'],
        optional: false,
        units: 2,
        conversion_from_first: 2 / 3,
        conversion_from_previous: 2 / 3,
        median_ms_from_previous: 90_000,
      },
      {
        step: 3,
        event: 'commerce.checkout',
        events: ['commerce.checkout'],
        optional: false,
        units: 1,
        conversion_from_first: 1 / 3,
        conversion_from_previous: 1 / 2,
        median_ms_from_previous: 120_000,
      },
    ]);
    // Time to convert: cart after 60 s (A) and 120 s (B); A's checkout 120 s after its cart, 180 s after its view.
    const near = (got: number, want: number) => Math.abs(got - want) <= 0.01 * want;
    expect('time_to_convert' in steps[0]).toBe(false);
    const cart = steps[1].time_to_convert!.from_previous;
    expect([near(cart.p50, 60_000), near(cart.p75, 120_000), near(cart.p95, 120_000)]).toEqual([true, true, true]);
    const inBins = (h: { from_ms: number; units: number }[]) =>
      h.filter((x) => x.units).map((x) => [x.from_ms, x.units]);
    expect(inBins(cart.histogram)).toEqual([[60_000, 2]]);
    const checkout = steps[2].time_to_convert!;
    expect([near(checkout.from_previous.p50, 120_000), near(checkout.from_first.p99, 180_000)]).toEqual([true, true]);
    expect(inBins(checkout.from_first.histogram)).toEqual([[60_000, 1]]);
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
      const res = await request(`${url}/api/v1/analytics/reports/timeseries`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t.tenant.report}` },
        body: JSON.stringify({
          tenantId: t.tenant.id,
          metric: 'ai.tool_calls.count',
          from: new Date(Date.now() - DAY).toISOString(),
          to: new Date().toISOString(),
          grain: '1h',
        }),
      });
      expect(res.status).toBe(504);
      expect(res.json).toMatchObject({ title: 'Report timed out', status: 504 });
      expect(res.json.detail).toMatch(/ran past 300 ms \(ANALYTICS_REPORT_TIMEOUT_MS\) and was cancelled in Postgres/);
      // answered while the lock is still held: the statement was cancelled, not let through
      const held = await t.db.query(
        `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
         WHERE c.relname = 'analytics_rollups' AND l.mode = 'AccessExclusiveLock' AND l.granted`,
      );
      expect(held.rows[0].n).toBe(1);
      const waiting = await t.db.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%analytics_rollups%'`,
      );
      expect(waiting.rows[0].n).toBe(0); // cancelled, not left waiting
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
      await app.close();
    }
  });
});
