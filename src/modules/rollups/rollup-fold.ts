import { StoredEvent } from '../contracts/stored-event';

/** What the fold reads of a stored event: the rollup keys and the attributes (no id, no context). */
export type FoldableEvent = Pick<
  StoredEvent,
  'tenant_id' | 'event_name' | 'occurred_at' | 'site_id' | 'session_id' | 'user_id' | 'source' | 'attributes'
>;
import { DDSketch } from './ddsketch';
import { EventSelector, METRICS, MetricDefinition } from './metric-catalog';

export type RollupLevel = 'm' | 'h' | 'd';
export const LEVELS: { level: RollupLevel; ms: number }[] = [
  { level: 'm', ms: 60_000 },
  { level: 'h', ms: 3_600_000 },
  { level: 'd', ms: 86_400_000 },
];
export const ALL_SITES = 'ffffffff-ffff-ffff-ffff-ffffffffffff';
export const NO_SITE = '00000000-0000-0000-0000-000000000000';
export const ALL_SOURCES = '*';

export interface RollupKey {
  tenant_id: string;
  metric: string;
  level: RollupLevel;
  /** Bucket start as ISO 8601 with milliseconds, e.g. 2025-01-15T10:00:00.000Z */
  bucket: string;
  site_id: string;
  source: string;
}

/** The one string form of a rollup row's key: matching and ordering rows everywhere use it. */
export function rollupKey(k: RollupKey): string {
  return `${k.tenant_id}|${k.metric}|${slotSuffix(k.level, k.site_id, k.source, k.bucket)}`;
}

function slotSuffix(level: string, site: string, source: string, bucket: string): string {
  return `${level}|${site}|${source}|${bucket}`;
}

/** What a rollup row holds for one metric and bucket. */
export interface RollupCell {
  count: number;
  num: number;
  sum: number;
  min: number | null;
  max: number | null;
  sketch: DDSketch | null;
}

export interface RollupDelta extends RollupKey, RollupCell {}

export interface Membership extends RollupKey {
  side: 'n' | 'd';
  unit: string;
}

/** A member as the members table holds it: its unit keyed with the tenant's secret (`memberKey`). */
export interface KeyedMembership extends RollupKey {
  side: 'n' | 'd';
  unit_key: Buffer;
}

export function field(e: Pick<StoredEvent, 'attributes' | 'session_id' | 'user_id'>, name: string): unknown {
  if (name === 'session_id' || name === 'user_id') return e[name];
  return e.attributes[name];
}

export function matches(
  sel: EventSelector,
  e: Pick<StoredEvent, 'event_name' | 'attributes' | 'session_id' | 'user_id'>,
): boolean {
  if (sel.event !== '*' && sel.event !== e.event_name) return false;
  return !sel.where || sel.where.every((w) => field(e, w.attribute) === w.equals);
}

interface Slot {
  level: RollupLevel;
  bucket: string;
  site_id: string;
  source: string;
  /** The key without tenant and metric, built once per event. */
  suffix: string;
}

/**
 * The rollup rows one event lands in: three levels × (site or all) × (source or all). Events of
 * the same minute, site and source share one list, so that its key strings are built (and hashed
 * by the Maps that use them) once, not once per event.
 */
function slotsOf(e: FoldableEvent, cache: Map<string, Slot[]>): Slot[] {
  const t = Date.parse(e.occurred_at);
  const site = e.site_id ?? NO_SITE;
  const cacheKey = `${Math.floor(t / 60_000)}|${site}|${e.source}`;
  const cached = cache.get(cacheKey);
  if (cached) return cached;
  const slots: Slot[] = [];
  for (const { level, ms } of LEVELS) {
    const bucket = new Date(Math.floor(t / ms) * ms).toISOString();
    for (const site_id of [site, ALL_SITES]) {
      for (const source of [e.source, ALL_SOURCES])
        slots.push({ level, bucket, site_id, source, suffix: slotSuffix(level, site_id, source, bucket) });
    }
  }
  cache.set(cacheKey, slots);
  return slots;
}

/** The rollup row a metric's value of one tenant falls in, at one of an event's slots. */
function keyOf(tenantId: string, metric: string, sl: Slot): RollupKey {
  return { tenant_id: tenantId, metric, level: sl.level, bucket: sl.bucket, site_id: sl.site_id, source: sl.source };
}

/**
 * What a set of freshly stored events adds to the rollups: counts, sums, extremes and sketches
 * aggregated per rollup row, and the distinct units that distinct-rate metrics must try to add.
 * Pure, so the fold and the brute-force check in tests share nothing but the catalog.
 */
export function foldEvents(
  events: FoldableEvent[],
  metrics: MetricDefinition[] = METRICS,
): { deltas: Map<string, RollupDelta>; members: Membership[] } {
  // Deltas by "tenant|metric", then by slot suffix: the long suffix strings are shared between
  // events (see slotsOf), so most lookups hash nothing new.
  const deltas = new Map<string, Map<string, RollupDelta>>();
  const members: Membership[] = [];
  const slotCache = new Map<string, Slot[]>();
  for (const e of events) {
    let slots: Slot[] | null = null; // looked up once per event, only if some metric wants it
    for (const m of metrics) {
      if (m.aggregation === 'cost') continue; // priced from the usage lines, not folded
      const inOf = matches(m.of, e);
      const inNum = m.numerator ? matches(m.numerator, e) : false;
      if (!inOf && !inNum) continue;
      if (m.aggregation === 'distinct_rate') {
        for (const [side, sel, hit] of [
          ['d', m.of, inOf],
          ['n', m.numerator!, inNum],
        ] as const) {
          const unit = hit ? field(e, sel.distinct!) : undefined;
          if (unit === undefined || unit === null || unit === '') continue;
          slots ??= slotsOf(e, slotCache);
          // A unit is keyed by String() of its JSON value, as stored members and live reports key it.
          // eslint-disable-next-line @typescript-eslint/no-base-to-string
          for (const sl of slots) members.push({ ...keyOf(e.tenant_id, m.name, sl), side, unit: String(unit) });
        }
        continue;
      }
      const value = m.attribute ? field(e, m.attribute) : undefined;
      if (m.attribute && (typeof value !== 'number' || !Number.isFinite(value))) continue; // an optional attribute left out
      slots ??= slotsOf(e, slotCache);
      const sketchIndexValue = m.aggregation === 'percentile' && typeof value === 'number' ? Math.max(0, value) : null;
      const prefix = `${e.tenant_id}|${m.name}`;
      let rows = deltas.get(prefix);
      if (!rows) deltas.set(prefix, (rows = new Map<string, RollupDelta>()));
      for (const sl of slots) {
        let d = rows.get(sl.suffix);
        if (!d) rows.set(sl.suffix, (d = emptyDelta(keyOf(e.tenant_id, m.name, sl))));
        if (inOf) d.count++;
        if (inNum) d.num++;
        if (typeof value === 'number' && inOf) {
          d.sum += value;
          d.min = d.min === null ? value : Math.min(d.min, value);
          d.max = d.max === null ? value : Math.max(d.max, value);
          if (sketchIndexValue !== null) (d.sketch ??= new DDSketch()).add(sketchIndexValue);
        }
      }
    }
  }
  // Flattened, keyed by rollupKey.
  const byKey = new Map<string, RollupDelta>();
  for (const [prefix, rows] of deltas) for (const [suffix, d] of rows) byKey.set(`${prefix}|${suffix}`, d);
  return { deltas: byKey, members };
}

function emptyDelta(k: RollupKey): RollupDelta {
  return {
    tenant_id: k.tenant_id,
    metric: k.metric,
    level: k.level,
    bucket: k.bucket,
    site_id: k.site_id,
    source: k.source,
    count: 0,
    num: 0,
    sum: 0,
    min: null,
    max: null,
    sketch: null,
  };
}

/** Counts members new to their bucket into their rows' deltas: `d` the denominator, `n` the numerator. */
export function countMembers(deltas: Map<string, RollupDelta>, fresh: (RollupKey & { side: 'n' | 'd' })[]): void {
  for (const m of fresh) {
    const k = rollupKey(m);
    let d = deltas.get(k);
    if (!d) deltas.set(k, (d = emptyDelta(m)));
    if (m.side === 'd') d.count++;
    else d.num++;
  }
}

/**
 * Members without repeats, sorted by key. Concurrent folds that share members (the same search or
 * session in neighbouring jobs) then take their row locks in one order and never deadlock.
 */
export function inLockOrder(members: Membership[]): Membership[] {
  return sortedByKey(new Map(members.map((m) => [`${rollupKey(m)}|${m.side}|${m.unit}`, m])));
}

/** Rollup deltas sorted by rollupKey, the order every fold locks rows in. */
export function inKeyOrder(deltas: Map<string, RollupDelta>): RollupDelta[] {
  return sortedByKey(deltas);
}

function sortedByKey<T>(byKey: Map<string, T>): T[] {
  return [...byKey.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([, v]) => v);
}
