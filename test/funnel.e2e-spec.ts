import { randomUUID } from 'node:crypto';
import { BUILTIN_EVENTS } from '../src/modules/schema-registry/builtin-events';
import { BATCH, makeEvent } from './support/events';
import { rng, Rng } from './support/hostile';
import { countRows, settled } from './support/queue';
import { createTestEnv, HttpAnswer, TestEnv } from './support/test-env';

/**
 * Funnels through the real app against an exhaustive per-unit brute force written from
 * docs/metrics.md: attribute units, any-of steps, property filters, optional steps, exclusions,
 * breakdowns, time-to-convert quantiles (nearest rank, within 1 %) and histograms, conversion over
 * time, on a random data set of microsecond times with ties, repeated steps and range and window
 * edges; the edge cases by hand; the refusals as 400 problems pointing at the field.
 */
const FUNNEL = '/api/v1/analytics/reports/funnel';
const HOUR_US = 3_600_000_000;
const SITES = ['5f0c3a52-7d2e-4b8f-a1c9-0e6d4b2a8f31', '6a1d4b63-8e3f-4c9a-b2da-1f7e5c3b9a42'];
const SOURCES = ['web', 'widget', 'server'];
const NAMES = [
  'commerce.view',
  'commerce.add_to_cart',
  'commerce.checkout',
  'ai.tool_call_started',
  'ai.tool_call_completed',
  'booking.slot_hold',
  'booking.confirmed',
  'system.error',
];

/** µs since the epoch → RFC 3339 with six fraction digits. */
const isoUs = (us: number) => {
  const ms = Math.floor(us / 1000);
  return `${new Date(ms).toISOString().slice(0, -1)}${String(us - ms * 1000).padStart(3, '0')}Z`;
};

interface Ev {
  event_id: string;
  name: string;
  at: number;
  session_id: string;
  user_id: string;
  site_id: string;
  source: string;
  attributes: Record<string, unknown>;
}

function dataSet(r: Rng, base: number): Ev[] {
  const out: Ev[] = [];
  const conversations = Array.from({ length: 80 }, () => randomUUID());
  const holds = Array.from({ length: 60 }, (_, i) => `h-${i}`);
  for (let s = 0; s < 400; s++) {
    const session = {
      session_id: randomUUID(),
      user_id: `u-${r.int(60)}`,
      site_id: r.pick(SITES),
      source: r.pick(SOURCES),
    };
    let at = base + r.int(5 * HOUR_US);
    for (let i = 0, n = 3 + r.int(14); i < n; i++) {
      // equal timestamps, a microsecond, a millisecond and a bit, seconds, minutes
      at += r.pick([0, 0, 1, 999, 1000, 1001, 1500, 2_000_000, 45_000_000, 600_000_000]);
      const name = r.pick(NAMES);
      const attributes: Record<string, unknown> = structuredClone(BUILTIN_EVENTS.find((t) => t.name === name)!.example);
      if (name.startsWith('ai.')) {
        if (r.chance(0.9)) attributes['gen_ai.conversation.id'] = r.pick(conversations);
        attributes['gen_ai.tool.name'] = r.pick(['navigation.goto', 'catalog.search', 'crm.lookup']);
      }
      if (name === 'ai.tool_call_completed') {
        attributes['ai.tool.success'] = r.chance(0.7);
        if (!attributes['ai.tool.success']) attributes['error.type'] = 'timeout';
        attributes['ai.tool.duration_ms'] = r.int(2000);
      }
      if (name.startsWith('booking.')) attributes['booking.hold_id'] = r.pick(holds);
      if (name === 'commerce.view') attributes['commerce.price'] = r.pick([5, 20, 120]);
      out.push({ event_id: randomUUID(), name, at, attributes, ...session });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The brute force: the documented definitions over the events as sent.

type Filter = { attribute: string; op: string; value?: unknown };
type Step = { event: string | string[]; where?: Filter[]; optional?: boolean };
interface Body {
  steps: (string | Step)[];
  from: string;
  to: string;
  window_seconds?: number;
  unit?: string;
  order?: 'ordered' | 'strict';
  exclusions?: { event: string | string[]; where?: Filter[]; between?: [number, number] }[];
  breakdown?: string[];
  breakdown_limit?: number;
  time_to_convert?: { bins_ms: number[] };
  conversion_over_time?: { grain: '1h' | '1d' };
}

const holds = (f: Filter, v: unknown) =>
  f.op === 'eq'
    ? v === f.value
    : f.op === 'neq'
      ? v !== f.value
      : f.op === 'in'
        ? (f.value as unknown[]).includes(v)
        : f.op === 'gt'
          ? typeof v === 'number' && v > (f.value as number)
          : f.op === 'lt'
            ? typeof v === 'number' && v < (f.value as number)
            : v !== undefined && v !== null;
const matches = (s: { event: string | string[]; where?: Filter[] }, e: Ev) =>
  ([] as string[]).concat(s.event).includes(e.name) &&
  (s.where ?? []).every((f) => holds(f, e.attributes[f.attribute]));
const parseUs = (iso: string) => {
  const m = /^(.*?)(?:\.(\d+))?Z$/.exec(iso)!;
  return Date.parse(`${m[1]}Z`) * 1000 + Number((m[2] ?? '').padEnd(6, '0').slice(0, 6));
};
const nearest = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length - 1e-9))) - 1];

function unitOf(e: Ev, unit: string): string | null {
  if (unit === 'session_id' || unit === 'user_id') return e[unit];
  const v = e.attributes[unit.slice('attributes.'.length)];
  return v === undefined || v === null || v === '' ? null : JSON.stringify(v);
}

/** One unit's best chain: per start, the required steps by exhaustive search, then the optional ones and the cuts. */
function bestChain(events: Ev[], b: Body): { start: Ev; at: (number | null)[] } | null {
  const steps: Step[] = b.steps.map((s) => (typeof s === 'string' ? { event: s } : s));
  const k = steps.length;
  const from = parseUs(b.from);
  const to = parseUs(b.to);
  const w = (b.window_seconds ?? 3600) * 1e6;
  const required = steps.map((s, i) => (s.optional ? -1 : i)).filter((i) => i >= 0);
  const exclusions = (b.exclusions ?? []).map((x) => {
    const [a, z] = x.between ?? [1, required[required.length - 1] + 1];
    return { x, a: a - 1, b: z - 1 };
  });
  let best: { start: Ev; at: (number | null)[]; depth: number } | null = null;
  for (let i = 0; i < events.length; i++) {
    const e0 = events[i];
    if (!matches(steps[0], e0) || e0.at < from || e0.at > to) continue;
    const limit = e0.at + w;
    const pos = new Array<number>(k).fill(-1);
    pos[0] = i;
    if (b.order === 'strict') {
      for (let s = 0, j = i + 1; s < k - 1 && j < events.length && events[j].at <= limit; j++) {
        let t = s + 1;
        while (t < k && !matches(steps[t], events[j]) && steps[t].optional) t++;
        if (t >= k || !matches(steps[t], events[j])) break;
        pos[t] = j;
        s = t;
      }
    } else {
      let chain = [i];
      const dfs = (r: number, c: number[]) => {
        if (c.length > chain.length) chain = [...c];
        if (r === required.length) return;
        for (let j = c[c.length - 1] + 1; j < events.length && events[j].at <= limit; j++) {
          if (matches(steps[required[r]], events[j])) dfs(r + 1, [...c, j]);
          if (chain.length === required.length) return;
        }
      };
      dfs(1, [i]);
      chain.forEach((p, r) => (pos[required[r]] = p));
      let last = i;
      for (let s = 1; s < k; s++) {
        if (!steps[s].optional) {
          if (pos[s] < 0) break;
          last = pos[s];
          continue;
        }
        const nextReq = required.find((r) => r > s);
        const bound = nextReq !== undefined && pos[nextReq] >= 0 ? pos[nextReq] : events.length;
        for (let j = last + 1; j < bound && events[j].at <= limit; j++)
          if (matches(steps[s], events[j])) {
            pos[s] = last = j;
            break;
          }
      }
      let cut = k;
      for (const { x, a, b: z } of exclusions) {
        if (pos[a] < 0) continue;
        const ex = events.findIndex((e, j) => j > pos[a] && matches(x, e));
        if (ex < 0) continue;
        const s = pos.findIndex((p, st) => st > a && st <= z && p > ex);
        if (s >= 0) cut = Math.min(cut, s);
      }
      for (let s = cut; s < k; s++) pos[s] = -1;
    }
    const depth = required.filter((r) => pos[r] >= 0).length;
    if (!best || depth > best.depth) best = { start: e0, at: pos.map((p) => (p >= 0 ? events[p].at : null)), depth };
  }
  return best;
}

const LADDER = [
  100, 500, 1_000, 5_000, 10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000,
  43_200_000, 86_400_000, 172_800_000, 604_800_000, 1_209_600_000,
];

/** The whole expected answer, quantiles as the exact nearest-rank values (the answer's are within 1 %). */
function expectedAnswer(all: Ev[], b: Body) {
  const unit = b.unit ?? 'session_id';
  const byUnit = new Map<string, Ev[]>();
  for (const e of all) {
    const u = unitOf(e, unit);
    if (u === null) continue;
    if (!byUnit.has(u)) byUnit.set(u, []);
    byUnit.get(u)!.push(e);
  }
  const chains: { start: Ev; at: (number | null)[] }[] = [];
  for (const events of byUnit.values()) {
    events.sort((x, y) => x.at - y.at || (x.event_id < y.event_id ? -1 : 1));
    const c = bestChain(events, b);
    if (c) chains.push(c);
  }
  const steps: Step[] = b.steps.map((s) => (typeof s === 'string' ? { event: s } : s));
  const prevReq = steps.map((_, s) => {
    for (let t = s - 1; t >= 0; t--) if (!steps[t].optional) return t;
    return 0;
  });
  const windowMs = (b.window_seconds ?? 3600) * 1000;
  const bins = b.time_to_convert?.bins_ms ?? LADDER.filter((x) => x < windowMs);
  const edges = [0, ...bins, windowMs];
  const distribution = (times: number[]) => {
    const sorted = [...times].sort((x, y) => x - y);
    const q = (p: number) => (sorted.length ? nearest(sorted, p) : null);
    return {
      p50: q(0.5),
      p75: q(0.75),
      p90: q(0.9),
      p95: q(0.95),
      p99: q(0.99),
      histogram: edges.slice(0, -1).map((e, i) => ({
        from_ms: e,
        to_ms: edges[i + 1],
        units: sorted.filter((x) => x >= e && (i === edges.length - 2 || x < edges[i + 1])).length,
      })),
    };
  };
  const tally = (group: typeof chains) =>
    steps.map((s, i) => {
      const reached = group.filter((c) => c.at[i] !== null);
      const first = group.length;
      const previous = i === 0 ? first : group.filter((c) => c.at[prevReq[i]] !== null).length;
      const gapsUs = reached.map((c) => c.at[i]! - c.at[prevReq[i]]!).sort((x, y) => x - y);
      const n = gapsUs.length;
      const names = ([] as string[]).concat(s.event);
      return {
        step: i + 1,
        event: typeof b.steps[i] === 'string' ? names[0] : [...new Set(names)].join(' | '),
        events: [...new Set(names)],
        optional: s.optional === true,
        units: reached.length,
        conversion_from_first: first ? reached.length / first : null,
        conversion_from_previous: previous ? reached.length / previous : null,
        median_ms_from_previous:
          i === 0 || !n ? null : (n % 2 ? gapsUs[(n - 1) / 2] : (gapsUs[n / 2 - 1] + gapsUs[n / 2]) / 2) / 1000,
        ...(i === 0
          ? {}
          : {
              time_to_convert: {
                from_previous: distribution(gapsUs.map((g) => g / 1000)),
                from_first: distribution(reached.map((c) => (c.at[i]! - c.at[0]!) / 1000)),
              },
            }),
      };
    });
  const answer: Record<string, unknown> = { steps: tally(chains) };
  if (b.breakdown?.length) {
    const value = (e: Ev, p: string) =>
      p === 'site_id' ? e.site_id : p === 'source' ? e.source : (e.attributes[p.slice(11)] ?? null);
    const keyed = chains.map((c) => ({ c, values: b.breakdown!.map((p) => value(c.start, p)) }));
    const counts = new Map<string, number>();
    for (const x of keyed) counts.set(JSON.stringify(x.values), (counts.get(JSON.stringify(x.values)) ?? 0) + 1);
    const ranked = [...counts].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).map(([key]) => key);
    const limit = b.breakdown_limit ?? 10;
    const groups = ranked.slice(0, limit).map((key) => {
      const members = keyed.filter((x) => JSON.stringify(x.values) === key).map((x) => x.c);
      return { values: JSON.parse(key) as unknown[], other: false, units: members.length, steps: tally(members) };
    });
    if (ranked.length > limit) {
      const rest = new Set(ranked.slice(limit));
      const members = keyed.filter((x) => rest.has(JSON.stringify(x.values))).map((x) => x.c);
      groups.push({ values: b.breakdown.map(() => null), other: true, units: members.length, steps: tally(members) });
    }
    answer.breakdown = { properties: b.breakdown, limit, values_total: ranked.length, groups };
  }
  if (b.conversion_over_time) {
    const g = b.conversion_over_time.grain === '1h' ? HOUR_US : 24 * HOUR_US;
    const lastReq = steps.length - 1 - [...steps].reverse().findIndex((s) => !s.optional);
    const points = [];
    for (let t = Math.floor(parseUs(b.from) / g) * g; t <= parseUs(b.to); t += g) {
      const inBucket = chains.filter((c) => c.at[0]! >= t && c.at[0]! < t + g);
      const units = steps.map((_, i) => inBucket.filter((c) => c.at[i] !== null).length);
      points.push({
        t: new Date(t / 1000).toISOString(),
        units,
        conversion_from_first: units[0] ? units[lastReq] / units[0] : null,
      });
    }
    answer.conversion_over_time = { grain: b.conversion_over_time.grain, points };
  }
  return { answer, units: chains.length, bins };
}

/** Replaces each quantile of an answer with whether it lies within 1 % of the expected one. */
function checkQuantiles(got: any, want: any, path: string, bad: string[]): void {
  if (Array.isArray(want)) {
    want.forEach((w, i) => checkQuantiles(got?.[i], w, `${path}/${i}`, bad));
    return;
  }
  if (want && typeof want === 'object') {
    for (const k of Object.keys(want)) {
      if (/^p\d\d$/.test(k) && got && typeof got === 'object') {
        const ok = want[k] === null ? got[k] === null : Math.abs(got[k] - want[k]) <= 0.01 * want[k] + 1e-9;
        if (!ok) bad.push(`${path}/${k}: ${got[k]} vs exact ${want[k]}`);
        got[k] = want[k];
      } else if (k === 'median_ms_from_previous' && got && typeof want[k] === 'number') {
        if (Math.abs(got[k] - want[k]) > 1e-9) bad.push(`${path}/${k}: ${got[k]} vs ${want[k]}`);
        got[k] = want[k];
      } else if (/^conversion_/.test(k) && got && typeof want[k] === 'number') {
        if (Math.abs(got[k] - want[k]) > 1e-12) bad.push(`${path}/${k}: ${got[k]} vs ${want[k]}`);
        got[k] = want[k];
      } else checkQuantiles(got?.[k], want[k], `${path}/${k}`, bad);
    }
  }
}

// ---------------------------------------------------------------------------------------------

describe('funnels: every option against a brute force over the events sent', () => {
  let t: TestEnv;
  let events: Ev[];
  const base = (Math.floor(Date.now() / 3_600_000) * 3_600_000 - 8 * 3_600_000) * 1000; // µs, 8 hours ago

  const send = async (list: Ev[], tenant = t.tenant) => {
    for (let i = 0; i < list.length; i += 500) {
      const batch = list.slice(i, i + 500).map((e) =>
        makeEvent({
          event_id: e.event_id,
          tenant_id: tenant.id,
          event_name: e.name,
          occurred_at: isoUs(e.at),
          session_id: e.session_id,
          user_id: e.user_id,
          site_id: e.site_id,
          source: e.source,
          attributes: e.attributes,
        }),
      );
      const res = await t.post(BATCH, { events: batch }, tenant.ingest);
      expect([res.status, res.json.accepted]).toEqual([202, batch.length]);
    }
  };

  beforeAll(async () => {
    t = await createTestEnv({ ANALYTICS_RATE_LIMIT_RPS: '100000', ANALYTICS_RATE_LIMIT_EPS: '10000000' });
    events = dataSet(rng(22), base);
    await send(events);
    await settled(t, 120_000);
  }, 180_000);
  afterAll(async () => {
    await t?.close();
  });

  const funnel = (body: Record<string, unknown>, key = t.tenant.report): Promise<HttpAnswer> =>
    t.post(FUNNEL, { tenantId: t.tenant.id, ...body }, key);

  it('stores every event with its microseconds', async () => {
    expect(await countRows(t.db, 'tenant_id = $1', [t.tenant.id])).toBe(events.length);
    const stored = await t.db.query(
      `SELECT event_id::text, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at FROM analytics_events_raw WHERE tenant_id = $1`,
      [t.tenant.id],
    );
    const sent = new Map(events.map((e) => [e.event_id, isoUs(e.at)]));
    expect(stored.rows.filter((r: { event_id: string; at: string }) => sent.get(r.event_id) !== r.at)).toEqual([]);
    expect(events.filter((e) => e.at % 1000 !== 0).length).toBeGreaterThan(events.length / 3);
  });

  it('answers random funnels of every option and their combinations as the brute force', async () => {
    const r = rng(2222);
    const eventTimes = events.map((e) => e.at).sort((a, b) => a - b);
    const filters: Filter[] = [
      { attribute: 'ai.tool.success', op: 'eq', value: true },
      { attribute: 'ai.tool.success', op: 'neq', value: true },
      { attribute: 'gen_ai.tool.name', op: 'in', value: ['navigation.goto', 'crm.lookup'] },
      { attribute: 'ai.tool.duration_ms', op: 'gt', value: 500 },
      { attribute: 'commerce.price', op: 'lt', value: 100 },
      { attribute: 'gen_ai.conversation.id', op: 'exists' },
    ];
    const units = ['session_id', 'user_id', 'attributes.gen_ai.conversation.id', 'attributes.booking.hold_id'];
    const breakdowns = [
      ['site_id'],
      ['source'],
      ['attributes.gen_ai.tool.name'],
      ['site_id', 'source'],
      ['attributes.ai.tool.success', 'site_id'],
    ];
    const seen = { cases: 0, complete: 0, optionalPassed: 0, breakdownOther: 0, series: 0, strict: 0, excluded: 0 };
    for (let i = 0; i < 80; i++) {
      const k = 2 + r.int(4);
      const steps: (string | Step)[] = Array.from({ length: k }, (_, s) => {
        const names = r.chance(0.3) ? [r.pick(NAMES), r.pick(NAMES)] : [r.pick(NAMES)];
        if (r.chance(0.4)) return names[0];
        return {
          event: names.length === 1 && r.chance(0.5) ? names[0] : names,
          ...(r.chance(0.4) ? { where: [r.pick(filters)] } : {}),
          ...(s > 0 && s < k - 1 && r.chance(0.35) ? { optional: true } : {}),
        };
      });
      const required = steps.map((s, j) => (typeof s === 'object' && s.optional ? -1 : j)).filter((j) => j >= 0);
      // Ranges with their edges on event times, give or take a microsecond.
      const lo = eventTimes[r.int(eventTimes.length / 3)] + r.pick([-1, 0, 1]);
      const hi = eventTimes[eventTimes.length - 1 - r.int(eventTimes.length / 3)] + r.pick([-1, 0, 1]);
      const body: Body = {
        steps,
        from: isoUs(lo),
        to: isoUs(hi),
        window_seconds: r.pick([1, 2, 60, 600, 3600, 7200]),
        unit: r.pick(units),
        order: r.chance(0.25) ? 'strict' : 'ordered',
        ...(r.chance(0.5)
          ? {
              exclusions: [
                {
                  event: r.pick(NAMES),
                  between: [required[0] + 1, required[required.length - 1] + 1] as [number, number],
                },
              ],
            }
          : {}),
        ...(r.chance(0.5) ? { breakdown: r.pick(breakdowns), breakdown_limit: r.pick([1, 2, 3, 10]) } : {}),
        ...(r.chance(0.3)
          ? {
              time_to_convert: {
                bins_ms: r.pick([
                  [1, 2, 1000],
                  [0.5, 1.5, 60_000, 600_000],
                ]),
              },
            }
          : {}),
        ...(r.chance(0.4) ? { conversion_over_time: { grain: r.pick(['1h', '1d'] as const) } } : {}),
      };
      const res = await funnel(body as unknown as Record<string, unknown>);
      const label = `case ${i}: ${JSON.stringify(body)}`;
      expect([label, res.status, res.json?.detail]).toEqual([label, 200, undefined]);
      const { answer, units: unitCount, bins } = expectedAnswer(events, body);
      const got = { ...res.json };
      const meta = got.meta;
      delete got.meta;
      const bad: string[] = [];
      checkQuantiles(got, answer, '', bad);
      expect([label, bad]).toEqual([label, []]);
      expect([label, got]).toEqual([label, answer]);
      expect([label, meta]).toEqual([
        label,
        {
          units: unitCount,
          window_seconds: body.window_seconds,
          unit: body.unit,
          order: body.order,
          bins_ms: bins,
          query_ms: meta.query_ms,
        },
      ]);
      const st = answer.steps as { units: number; optional: boolean }[];
      seen.cases++;
      if (st[st.length - 1].units > 0) seen.complete++;
      if (st.some((s) => s.optional && s.units > 0)) seen.optionalPassed++;
      if ((answer.breakdown as { groups: { other: boolean }[] } | undefined)?.groups.some((g) => g.other))
        seen.breakdownOther++;
      if (answer.conversion_over_time) seen.series++;
      if (body.order === 'strict' && st[1].units > 0) seen.strict++;
      if (body.exclusions && body.order !== 'strict') {
        const without = expectedAnswer(events, { ...body, exclusions: undefined }).answer.steps as { units: number }[];
        if (JSON.stringify(without.map((s) => s.units)) !== JSON.stringify(st.map((s) => s.units))) seen.excluded++;
      }
    }
    // The cases reach every outcome: complete chains, optional steps passed, "other" groups, series, cuts.
    for (const [what, n] of Object.entries(seen)) expect([what, n, n > 2]).toEqual([what, n, true]);
  }, 240_000);

  it('holds the documented edges to the microsecond: range, window and the median of a 1.5 ms gap', async () => {
    const op = t.operator;
    const from = base + 6 * HOUR_US + 250; // a time with microseconds
    const to = from + HOUR_US;
    const session = () => randomUUID();
    const e = (name: string, s: string, at: number): Ev => ({
      event_id: randomUUID(),
      name,
      at,
      session_id: s,
      user_id: 'u-edge',
      site_id: SITES[0],
      source: 'web',
      attributes: structuredClone(BUILTIN_EVENTS.find((x) => x.name === name)!.example),
    });
    const views: Ev[] = [];
    // 249 sessions view inside [from, to], the last of them exactly at to; one views 1 µs after to, one 1 µs before from.
    for (let i = 0; i < 249; i++) views.push(e('commerce.view', session(), i === 248 ? to : from + i * 1000));
    views.push(e('commerce.view', session(), to + 1), e('commerce.view', session(), from - 1));
    // Window edges: a cart exactly at the window counts, one 999 µs (or 1 µs) past it does not.
    const [w1, w2, w3, w4] = [session(), session(), session(), session()];
    views.push(
      e('commerce.view', w1, from),
      e('commerce.add_to_cart', w1, from + 60_000_000),
      e('commerce.view', w2, from),
      e('commerce.add_to_cart', w2, from + 60_000_000 + 999),
      e('commerce.view', w3, from),
      e('commerce.add_to_cart', w3, from + 60_000_000 + 1),
      e('commerce.view', w4, from + 7),
      e('commerce.add_to_cart', w4, from + 7 + 1500), // 1.5 ms
    );
    await send(views, op);
    await settled(t);
    const res = await t.post(
      FUNNEL,
      {
        tenantId: op.id,
        steps: ['commerce.view', 'commerce.add_to_cart'],
        from: isoUs(from),
        to: isoUs(to),
        window_seconds: 60,
      },
      op.report,
    );
    expect(res.status).toBe(200);
    expect(res.json.steps.map((s: { units: number }) => s.units)).toEqual([249 + 4, 2]);
    // the gaps: 60 s exactly and 1.5 ms; the median is their mean
    expect(res.json.steps[1].median_ms_from_previous).toBe((60_000 + 1.5) / 2);
    const one = await t.post(
      FUNNEL,
      {
        tenantId: op.id,
        steps: ['commerce.view', 'commerce.add_to_cart'],
        from: isoUs(from + 7),
        to: isoUs(from + 8),
        window_seconds: 1,
      },
      op.report,
    );
    expect(one.json.steps[1]).toMatchObject({ units: 1, median_ms_from_previous: 1.5 });
    expect(one.json.steps[1].time_to_convert.from_previous.histogram).toEqual([
      { from_ms: 0, to_ms: 100, units: 1 },
      { from_ms: 100, to_ms: 500, units: 0 },
      { from_ms: 500, to_ms: 1000, units: 0 },
    ]);
    expect(Math.abs(one.json.steps[1].time_to_convert.from_previous.p95 - 1.5) / 1.5).toBeLessThanOrEqual(0.01);
  });

  it('answers p95 of 300 and 412 ms as 412 within 1 % (nearest rank)', async () => {
    const op = t.other;
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000;
    const turns = [300, 412].map((ms) =>
      makeEvent({
        tenant_id: op.id,
        occurred_at: new Date(hour + 60_000).toISOString(),
        attributes: { 'voice.turn_id': 't-1', 'voice.first_response_ms': ms },
      }),
    );
    expect((await t.post(BATCH, { events: turns }, op.ingest)).json.accepted).toBe(2);
    await settled(t);
    const res = await t.post(
      '/api/v1/analytics/reports/summary',
      {
        tenantId: op.id,
        metrics: ['voice.first_response_ms.p95', 'voice.first_response_ms.p50', 'voice.first_response_ms.p99'],
        from: new Date(hour).toISOString(),
        to: new Date(hour + 3_600_000).toISOString(),
      },
      op.report,
    );
    const v = (n: string) => res.json.metrics[`voice.first_response_ms.${n}`].value as number;
    expect(Math.abs(v('p95') - 412) / 412).toBeLessThanOrEqual(0.01);
    expect(Math.abs(v('p99') - 412) / 412).toBeLessThanOrEqual(0.01);
    expect(Math.abs(v('p50') - 300) / 300).toBeLessThanOrEqual(0.01);
  });

  it('refuses what makes no sense with a 400 problem pointing at the field', async () => {
    const range = { from: isoUs(base), to: isoUs(base + HOUR_US) };
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [
        {
          steps: [
            { event: 'commerce.view', optional: true },
            { event: 'commerce.checkout', optional: true },
          ],
        },
        '/steps',
        /^steps cannot all be optional/,
      ],
      [
        { steps: [{ event: 'commerce.view', optional: true }, 'commerce.view', 'commerce.checkout'] },
        '/steps/0/optional',
        /^The first step cannot be optional/,
      ],
      [
        { steps: ['commerce.view', { event: 'commerce.checkout', optional: true }] },
        '/steps',
        /^A funnel needs at least 2 required steps/,
      ],
      [
        { steps: ['commerce.view', 'commerce.checkout'], breakdown: ['country'] },
        '/breakdown/0',
        /^\/breakdown\/0 must be site_id, source or attributes/,
      ],
      [
        { steps: ['commerce.view', 'commerce.checkout'], window_seconds: 0 },
        '/window_seconds',
        /^window_seconds must be an integer from 1/,
      ],
      [{ steps: ['commerce.view'] }, '/steps', /^steps must be 2 to 10 event names/],
      [{ steps: ['commerce.view', { event: ['commerce.checkout', 'Bad Name'] }] }, '/steps/1/event', /event name/],
      [
        { steps: ['commerce.view', { event: 'commerce.checkout', where: [{ attribute: 'a', op: 'like', value: 1 }] }] },
        '/steps/1/where/0/op',
        /must be one of eq, neq, in, gt, lt, exists/,
      ],
      [
        { steps: ['commerce.view', { event: 'commerce.checkout', where: [{ attribute: 'a', op: 'in', value: 'x' }] }] },
        '/steps/1/where/0/value',
        /list of 1 to 100/,
      ],
      [
        { steps: ['commerce.view', { event: 'commerce.checkout', where: [{ attribute: 'a', op: 'gt', value: '5' }] }] },
        '/steps/1/where/0/value',
        /must be a number for op gt/,
      ],
      [
        {
          steps: ['commerce.view', { event: 'commerce.add_to_cart', optional: true }, 'commerce.checkout'],
          exclusions: [{ event: 'system.error', between: [2, 3] }],
        },
        '/exclusions/0/between/0',
        /optional/,
      ],
      [
        { steps: ['commerce.view', 'commerce.checkout'], exclusions: [{ event: 'system.error', between: [2, 1] }] },
        '/exclusions/0/between',
        /two step numbers/,
      ],
      [
        { steps: ['commerce.view', 'commerce.checkout'], unit: 'attributes.' },
        '/unit',
        /^unit must be session_id, user_id or attributes/,
      ],
      [
        { steps: ['commerce.view', 'commerce.checkout'], breakdown: ['site_id', 'source', 'attributes.x'] },
        '/breakdown',
        /at most 2/,
      ],
      [{ steps: ['commerce.view', 'commerce.checkout'], breakdown: ['site_id', 'site_id'] }, '/breakdown/1', /twice/],
      [{ steps: ['commerce.view', 'commerce.checkout'], breakdown_limit: 5 }, '/breakdown_limit', /needs a breakdown/],
      [
        { steps: ['commerce.view', 'commerce.checkout'], breakdown: ['source'], breakdown_limit: 51 },
        '/breakdown_limit',
        /from 1 to 50/,
      ],
      [
        { steps: ['commerce.view', 'commerce.checkout'], time_to_convert: { bins_ms: [10, 5] } },
        '/time_to_convert/bins_ms',
        /increasing/,
      ],
      [
        { steps: ['commerce.view', 'commerce.checkout'], conversion_over_time: { grain: '1m' } },
        '/conversion_over_time/grain',
        /1h or 1d/,
      ],
      [{ steps: ['commerce.view', 'commerce.checkout'], colour: 'red' }, '/colour', /^Unknown field/],
      [{ steps: ['commerce.view', 'commerce.checkout'], from: 'yesterday' }, '/from', /^from must be an RFC 3339/],
    ];
    for (const [body, pointer, detail] of cases) {
      const res = await funnel({ ...range, ...body });
      const label = JSON.stringify(body);
      expect([label, res.status, res.headers.get('content-type')?.split(';')[0]]).toEqual([
        label,
        400,
        'application/problem+json',
      ]);
      expect([label, res.json.errors?.[0]?.pointer]).toEqual([label, pointer]);
      expect([label, detail.test(res.json.detail)]).toEqual([label, true]);
    }
    // A 1h series over 90 days is 2,161 points: within the limit; a funnel over 91 days is refused before.
    const long = await funnel({
      steps: ['commerce.view', 'commerce.checkout'],
      from: '2025-01-01T00:00:00Z',
      to: '2025-04-02T00:00:00Z',
      conversion_over_time: { grain: '1h' },
    });
    expect([long.status, long.json.detail]).toEqual([
      400,
      'A funnel covers at most 90 days (ANALYTICS_FUNNEL_MAX_RANGE_DAYS); this one covers 91 days. Choose a shorter range.',
    ]);
  });
});
