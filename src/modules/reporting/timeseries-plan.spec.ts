import { planTimeseries } from './timeseries-plan';

const t = (s: string) => Date.parse(s);

describe('planTimeseries', () => {
  it('aligns buckets to the grain in UTC and picks the coarsest level that divides it', () => {
    const p = planTimeseries(t('2025-01-15T00:00:00Z'), t('2025-01-15T23:59:59Z'), '1h', 10000, false);
    expect(p).toMatchObject({ level: 'h', grainMs: 3_600_000, exactFromRollups: true });
    if ('error' in p) return;
    expect(p.buckets).toHaveLength(24);
    expect(new Date(p.buckets[23]).toISOString()).toBe('2025-01-15T23:00:00.000Z');
    expect(planTimeseries(0, 86_400_000 * 3, '1d', 10, false)).toMatchObject({ level: 'd' });
    expect(planTimeseries(0, 3_600_000, '15m', 10, false)).toMatchObject({
      level: 'm',
      buckets: [0, 900_000, 1_800_000, 2_700_000],
    });
    expect(planTimeseries(t('2025-01-15T10:07:00Z'), t('2025-01-15T10:20:00Z'), '5m', 10, false)).toMatchObject({
      buckets: [t('2025-01-15T10:05:00Z'), t('2025-01-15T10:10:00Z'), t('2025-01-15T10:15:00Z')],
    });
  });

  it('says when distinct counts cannot be added up from finer rollups', () => {
    expect(planTimeseries(0, 3_600_000, '5m', 100, true)).toMatchObject({ level: 'm', exactFromRollups: false });
    expect(planTimeseries(0, 3_600_000, '1m', 100, true)).toMatchObject({ exactFromRollups: true });
  });

  it('refuses too many points, an unknown grain and an empty range before any query', () => {
    expect(planTimeseries(0, 86_400_000 * 90, '1m', 10000, false)).toEqual({
      error:
        '129600 points at 1m from 1970-01-01T00:00:00.000Z to 1970-04-01T00:00:00.000Z; the limit is 10000 (ANALYTICS_MAX_TIMESERIES_POINTS). Choose a coarser grain or a shorter range.',
    });
    expect(planTimeseries(0, 1, '2h', 10, false)).toEqual({ error: 'grain must be one of 1m, 5m, 15m, 1h, 1d' });
    expect(planTimeseries(5, 5, '1h', 10, false)).toEqual({ error: 'to must be after from' });
  });
});
