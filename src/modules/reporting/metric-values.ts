import { DDSketch } from '../rollups/ddsketch';
import { ResolvedMetric } from '../rollups/metric-catalog';
import { RollupCell, field, matches } from '../rollups/rollup-fold';

/** What a bucket holds for one metric, whether read from rollups or computed from raw events. */
export type Cell = RollupCell;

export const emptyCell = (): Cell => ({ count: 0, num: 0, sum: 0, min: null, max: null, sketch: null });

/** Adds `c` to `into`; `into` may take over `c`'s sketch, so `c` is not to be used afterwards. */
export function mergeCell(into: Cell, c: Cell): void {
  into.count += c.count;
  into.num += c.num;
  into.sum += c.sum;
  into.min = c.min === null ? into.min : into.min === null ? c.min : Math.min(into.min, c.min);
  into.max = c.max === null ? into.max : into.max === null ? c.max : Math.max(into.max, c.max);
  if (c.sketch) {
    if (into.sketch) into.sketch.merge(c.sketch);
    else into.sketch = c.sketch;
  }
}

/**
 * A bucket's value. Counts and sums of an empty bucket are 0; averages, rates and percentiles of
 * an empty bucket are null (there is nothing to average).
 */
export function valueOf(m: ResolvedMetric, c: Cell): number | null {
  switch (m.definition.aggregation) {
    case 'count':
      return c.count;
    case 'sum':
      return c.sum;
    case 'avg':
      return c.count ? c.sum / c.count : null;
    case 'rate':
    case 'distinct_rate':
      return c.count ? c.num / c.count : null;
    case 'percentile':
      return c.sketch && c.sketch.count ? c.sketch.quantile(m.quantile!) : null;
    case 'cost':
      // sum: micro-units; num: lines without a price (the cost is then unknown); count: lines or units
      if (c.num > 0) return null;
      if (m.definition.cost === 'total') return c.sum;
      return c.count ? c.sum / c.count : null;
  }
}

export interface RawEvent {
  event_name: string;
  attributes: Record<string, unknown>;
  session_id: string | null;
  user_id: string | null;
  occurred_at: Date;
}

/** The same cells computed straight from raw events (rollups off, or distinct counts at 5m/15m). */
export function cellsFromEvents(m: ResolvedMetric, events: RawEvent[], buckets: number[], grainMs: number): Cell[] {
  const def = m.definition;
  const cells = buckets.map(emptyCell);
  const sets = buckets.map(() => ({ d: new Set<string>(), n: new Set<string>() }));
  const first = buckets[0];
  for (const e of events) {
    const i = Math.floor((e.occurred_at.getTime() - first) / grainMs);
    if (i < 0 || i >= buckets.length) continue;
    const inOf = matches(def.of, e);
    const inNum = def.numerator ? matches(def.numerator, e) : false;
    if (def.aggregation === 'distinct_rate') {
      const d = inOf ? field(e, def.of.distinct!) : undefined;
      const n = inNum ? field(e, def.numerator!.distinct!) : undefined;
      // A unit is keyed by String() of its JSON value, as the rollup fold keys it.
      /* eslint-disable @typescript-eslint/no-base-to-string */
      if (d !== undefined && d !== null && d !== '') sets[i].d.add(String(d));
      if (n !== undefined && n !== null && n !== '') sets[i].n.add(String(n));
      /* eslint-enable @typescript-eslint/no-base-to-string */
      continue;
    }
    const value = def.attribute ? field(e, def.attribute) : undefined;
    if (def.attribute && (typeof value !== 'number' || !Number.isFinite(value))) continue;
    const c = cells[i];
    if (inOf) c.count++;
    if (inNum) c.num++;
    if (typeof value === 'number' && inOf) {
      mergeCell(c, { count: 0, num: 0, sum: value, min: value, max: value, sketch: null });
      if (def.aggregation === 'percentile') (c.sketch ??= new DDSketch()).add(Math.max(0, value));
    }
  }
  if (def.aggregation === 'distinct_rate')
    sets.forEach((s, i) => {
      cells[i].count = s.d.size;
      cells[i].num = s.n.size;
    });
  return cells;
}
