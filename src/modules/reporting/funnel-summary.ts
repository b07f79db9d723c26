import { DDSketch } from '../rollups/ddsketch';
import { Chain } from './funnel';
import { FunnelStepSpec } from './funnel-request';

/**
 * What a funnel answers from its units' best chains: per step the units that passed it, conversions,
 * the exact median time from the previous required step, and the time to convert as sketch quantiles
 * and an exact histogram; per breakdown value the same; per grain bucket of the chains' starts the
 * step counts. Times are kept in microseconds and answered in milliseconds (fractions kept).
 */
export const TIME_QUANTILES: Record<string, number> = { p50: 0.5, p75: 0.75, p90: 0.9, p95: 0.95, p99: 0.99 };

/** Default histogram edges (ms): 100 ms … 14 days, those below the window. */
export const DEFAULT_BIN_LADDER_MS = [
  100, 500, 1_000, 5_000, 10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000,
  43_200_000, 86_400_000, 172_800_000, 604_800_000, 1_209_600_000,
];

export function defaultBinsMs(windowSeconds: number): number[] {
  return DEFAULT_BIN_LADDER_MS.filter((e) => e < windowSeconds * 1000);
}

export interface Distribution {
  p50: number | null;
  p75: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  /** Bins [from_ms, to_ms): the last one ends at the window, inclusive. */
  histogram: { from_ms: number; to_ms: number; units: number }[];
}

export interface FunnelStepAnswer {
  step: number;
  event: string;
  events: string[];
  optional: boolean;
  units: number;
  conversion_from_first: number | null;
  conversion_from_previous: number | null;
  median_ms_from_previous: number | null;
  /** Left out for the first step. */
  time_to_convert?: { from_previous: Distribution; from_first: Distribution };
}

class Times {
  readonly sketch = new DDSketch();
  readonly bins: number[];
  constructor(private readonly edgesUs: number[]) {
    this.bins = new Array<number>(edgesUs.length + 1).fill(0);
  }
  add(us: number): void {
    this.sketch.add(us / 1000);
    let i = 0;
    while (i < this.edgesUs.length && us >= this.edgesUs[i]) i++;
    this.bins[i]++;
  }
  answer(edgesMs: number[], windowMs: number): Distribution {
    const q = (x: number) => this.sketch.quantile(x);
    return {
      p50: q(TIME_QUANTILES.p50),
      p75: q(TIME_QUANTILES.p75),
      p90: q(TIME_QUANTILES.p90),
      p95: q(TIME_QUANTILES.p95),
      p99: q(TIME_QUANTILES.p99),
      histogram: this.bins.map((units, i) => ({
        from_ms: i === 0 ? 0 : edgesMs[i - 1],
        to_ms: i < edgesMs.length ? edgesMs[i] : windowMs,
        units,
      })),
    };
  }
}

/** The steps' tallies of one group of units (all of them, one breakdown value, or "other"). */
export class FunnelTally {
  units = 0;
  private readonly reached: number[];
  private readonly gaps: number[][];
  private readonly fromPrevious: Times[];
  private readonly fromFirst: Times[];
  private readonly edgesUs: number[];

  constructor(
    private readonly steps: FunnelStepSpec[],
    private readonly edgesMs: number[],
    private readonly windowMs: number,
    /** previousRequired[s]: the required step before step s (s ≥ 1). */
    private readonly previousRequired: number[],
  ) {
    this.edgesUs = edgesMs.map((e) => e * 1000);
    this.reached = steps.map(() => 0);
    this.gaps = steps.map(() => []);
    this.fromPrevious = steps.map(() => new Times(this.edgesUs));
    this.fromFirst = steps.map(() => new Times(this.edgesUs));
  }

  add(chain: Chain): void {
    this.units++;
    const at = chain.at;
    for (let s = 0; s < at.length; s++) {
      const t = at[s];
      if (t === null) continue;
      this.reached[s]++;
      if (s === 0) continue;
      const gap = t - at[this.previousRequired[s]]!;
      this.gaps[s].push(gap);
      this.fromPrevious[s].add(gap);
      this.fromFirst[s].add(t - at[0]!);
    }
  }

  answer(): FunnelStepAnswer[] {
    const first = this.reached[0];
    return this.steps.map((spec, s) => {
      const units = this.reached[s];
      const previous = s === 0 ? first : this.reached[this.previousRequired[s]];
      return {
        step: s + 1,
        event: spec.label,
        events: spec.events,
        optional: spec.optional,
        units,
        conversion_from_first: first ? units / first : null,
        conversion_from_previous: previous ? units / previous : null,
        median_ms_from_previous: s === 0 ? null : medianMs(this.gaps[s]),
        ...(s === 0
          ? {}
          : {
              time_to_convert: {
                from_previous: this.fromPrevious[s].answer(this.edgesMs, this.windowMs),
                from_first: this.fromFirst[s].answer(this.edgesMs, this.windowMs),
              },
            }),
      };
    });
  }
}

/** The median of some µs times, in ms: the middle value, or the mean of the two middle ones. */
export function medianMs(us: number[]): number | null {
  if (!us.length) return null;
  const sorted = Float64Array.from(us).sort();
  const n = sorted.length;
  return (n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2) / 1000;
}

export function previousRequiredSteps(steps: FunnelStepSpec[]): number[] {
  const out: number[] = [];
  let last = 0;
  steps.forEach((s, i) => {
    out.push(i === 0 ? 0 : last);
    if (!s.optional) last = i;
  });
  return out;
}

export interface BreakdownGroup {
  values: unknown[];
  other: boolean;
  units: number;
  steps: FunnelStepAnswer[];
}

/**
 * Groups by breakdown value (the values of the chain's first-step event): the `limit` values with
 * the most units (ties by value, as JSON text), then one "other" group of every unit beyond them.
 */
export function breakdownGroups(
  chains: { chain: Chain; values: unknown[] }[],
  limit: number,
  newTally: () => FunnelTally,
): { groups: BreakdownGroup[]; values_total: number } {
  const counts = new Map<string, { values: unknown[]; units: number }>();
  for (const c of chains) {
    const key = JSON.stringify(c.values);
    const g = counts.get(key);
    if (g) g.units++;
    else counts.set(key, { values: c.values, units: 1 });
  }
  const ranked = [...counts.entries()].sort(
    (a, b) => b[1].units - a[1].units || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0),
  );
  const top = new Map(ranked.slice(0, limit).map(([key]) => [key, newTally()]));
  const other = ranked.length > limit ? newTally() : null;
  for (const c of chains) (top.get(JSON.stringify(c.values)) ?? other!).add(c.chain);
  const groups: BreakdownGroup[] = [...top.entries()].map(([key, tally]) => ({
    values: counts.get(key)!.values,
    other: false,
    units: tally.units,
    steps: tally.answer(),
  }));
  if (other)
    groups.push({ values: chains[0].values.map(() => null), other: true, units: other.units, steps: other.answer() });
  return { groups, values_total: ranked.length };
}

export interface ConversionPoint {
  t: string;
  units: number[];
  conversion_from_first: number | null;
}

/** Step counts per grain bucket (UTC) of the chains' first steps, every bucket of [from, to] present. */
export function conversionSeries(
  chains: Chain[],
  stepCount: number,
  lastRequired: number,
  fromUs: number,
  toUs: number,
  grainUs: number,
): ConversionPoint[] {
  const first = Math.floor(fromUs / grainUs);
  const last = Math.floor(toUs / grainUs);
  const units = Array.from({ length: last - first + 1 }, () => new Array<number>(stepCount).fill(0));
  for (const c of chains) {
    const row = units[Math.floor(c.at[0]! / grainUs) - first];
    for (let s = 0; s < stepCount; s++) if (c.at[s] !== null) row[s]++;
  }
  return units.map((u, i) => ({
    t: new Date(((first + i) * grainUs) / 1000).toISOString(),
    units: u,
    conversion_from_first: u[0] ? u[lastRequired] / u[0] : null,
  }));
}
