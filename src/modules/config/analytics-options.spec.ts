import { configFromOptions } from './analytics-options';

const ENV = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/analytics', REDIS_URL: 'redis://127.0.0.1:6379' };

describe('configFromOptions (the brief’s initializeAnalytics options)', () => {
  it('sets each option over its environment variable, which stays the default', () => {
    const config = configFromOptions(
      {
        ingestion: { maxBatchSize: 200, maxPayloadSizeKb: 256, clockSkewToleranceMs: 60_000, dedupeWindowMs: 30_000 },
        reporting: { defaultTimeoutMs: 5000, cacheRollups: false, maxTimeseriesPoints: 2000 },
        privacy: { sanitizeEventData: true, retentionDays: 30 },
      },
      { ...ENV, ANALYTICS_MAX_BATCH_SIZE: '50', ANALYTICS_REPORT_MAX_RANGE_DAYS: '7' },
    );
    expect(config.ingestion).toMatchObject({
      maxBatchSize: 200,
      maxPayloadSizeKb: 256,
      clockSkewToleranceMs: 60_000,
      dedupeWindowMs: 30_000,
    });
    expect(config.reporting).toMatchObject({ defaultTimeoutMs: 5000, maxTimeseriesPoints: 2000, maxRangeDays: 7 });
    expect(config.rollups.enabled).toBe(false);
    expect(config.privacy.retentionDays).toBe(30);
    expect(configFromOptions({}, { ...ENV, ANALYTICS_MAX_BATCH_SIZE: '50' }).ingestion.maxBatchSize).toBe(50);
  });

  it('refuses unknown options, wrong types and sanitizeEventData false, naming each', () => {
    expect(() =>
      configFromOptions(
        {
          ingestion: { maxBatchSize: '200' as unknown as number, maxBatch: 1 } as never,
          reporting: { cacheRollups: 'yes' as unknown as boolean },
          privacy: { sanitizeEventData: false },
          storage: {},
        } as never,
        ENV,
      ),
    ).toThrow(
      'Invalid analytics options: storage is not an option (known: ingestion, reporting, privacy); ' +
        'ingestion.maxBatch is not an option (known: maxBatchSize, maxPayloadSizeKb, clockSkewToleranceMs, dedupeWindowMs); ' +
        'ingestion.maxBatchSize must be an integer (got "200"); ' +
        'reporting.cacheRollups must be true or false (got "yes"); ' +
        'privacy.sanitizeEventData cannot be turned off (got false): events are always sanitized, so no personal data reaches the queue or the database',
    );
  });

  it('refuses a value out of range by the variable’s rule, named as the option', () => {
    expect(() => configFromOptions({ ingestion: { maxBatchSize: 0 } }, ENV)).toThrow(
      /^Invalid configuration: ingestion\.maxBatchSize \(ANALYTICS_MAX_BATCH_SIZE\) must not be less than 1 \(got "0"\)$/,
    );
  });
});
