import { RollupLevel } from '../rollups/rollup-fold';

export const GRAINS: Record<string, number> = {
  '1m': 60_000,
  '5m': 300_000,
  '15m': 900_000,
  '1h': 3_600_000,
  '1d': 86_400_000,
};
const LEVEL_MS: [RollupLevel, number][] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
];

export interface TimeseriesPlan {
  grainMs: number;
  /** Start of each bucket, UTC-aligned to the grain, covering [from, to]. */
  buckets: number[];
  /** The coarsest rollup level whose buckets divide the grain. */
  level: RollupLevel;
  /** Whether rollup rows add up exactly to the grain (false: distinct counts across finer rows). */
  exactFromRollups: boolean;
}

/**
 * Plans a timeseries before any query runs: buckets aligned to the grain in UTC (each covers its
 * whole interval; the last is the one holding `to`), the rollup level to read, and the point count
 * checked against the limit.
 */
export function planTimeseries(
  fromMs: number,
  toMs: number,
  grain: string,
  maxPoints: number,
  distinct: boolean,
): TimeseriesPlan | { error: string } {
  const grainMs = GRAINS[grain];
  if (!grainMs) return { error: `grain must be one of ${Object.keys(GRAINS).join(', ')}` };
  if (!(toMs > fromMs)) return { error: 'to must be after from' };
  const first = Math.floor(fromMs / grainMs) * grainMs;
  const last = Math.ceil(toMs / grainMs) * grainMs; // exclusive end
  const points = (last - first) / grainMs;
  if (points > maxPoints) {
    return {
      error: `${points} points at ${grain} from ${new Date(first).toISOString()} to ${new Date(last).toISOString()}; the limit is ${maxPoints} (ANALYTICS_MAX_TIMESERIES_POINTS). Choose a coarser grain or a shorter range.`,
    };
  }
  const [level, levelMs] = LEVEL_MS.find(([, ms]) => grainMs % ms === 0)!;
  return {
    grainMs,
    buckets: Array.from({ length: points }, (_, i) => first + i * grainMs),
    level,
    exactFromRollups: !distinct || levelMs === grainMs,
  };
}
