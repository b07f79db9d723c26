import { AnalyticsConfig } from './analytics-config';
import { ConfigError } from './environment';

describe('AnalyticsConfig', () => {
  it('has defaults that work against local Postgres and Redis, shaped like the brief', () => {
    const c = AnalyticsConfig.fromEnvironment({});
    expect(c.database.url).toBe('postgresql://postgres@127.0.0.1:5432/analytics');
    expect(c.redis).toMatchObject({ host: '127.0.0.1', port: 6379, db: 0, prefix: 'analytics' });
    expect(c.ingestion).toMatchObject({
      maxBatchSize: 500,
      maxPayloadSizeKb: 500,
      clockSkewToleranceMs: 86_400_000,
      dedupeWindowMs: 60_000,
    });
    expect(c.privacy.retentionDays).toBe(90);
    expect(c.rollups.enabled).toBe(true);
    expect(c.worker).toMatchObject({ concurrency: 4, nice: 0 });
    expect(() => AnalyticsConfig.fromEnvironment({ ANALYTICS_WORKER_NICE: '20' })).toThrow(
      /ANALYTICS_WORKER_NICE must not be greater than 19/,
    );
    expect(c.database.autoMigrate).toBe(true); // development
    expect(AnalyticsConfig.fromEnvironment({ NODE_ENV: 'production' }).database.autoMigrate).toBe(false);
  });

  it('reads the brief variables, booleans in their usual spellings, and a Redis URL with credentials', () => {
    const c = AnalyticsConfig.fromEnvironment({
      ANALYTICS_MAX_BATCH_SIZE: '100',
      ANALYTICS_RETENTION_DAYS: '30',
      ANALYTICS_ENABLE_ROLLUPS: 'off',
      ANALYTICS_DEBUG_MODE: 'yes',
      REDIS_URL: 'redis://user:p%40ss@cache:6380/2',
    });
    expect(c.ingestion.maxBatchSize).toBe(100);
    expect(c.privacy.retentionDays).toBe(30);
    expect(c.rollups.enabled).toBe(false);
    expect(c.debug).toBe(true);
    expect(c.logLevel).toBe('debug');
    expect(c.redis).toMatchObject({ host: 'cache', port: 6380, db: 2, username: 'user', password: 'p@ss' });
  });

  it('refuses bad values with one message naming each variable and value', () => {
    expect(() => AnalyticsConfig.fromEnvironment({ ANALYTICS_DEDUPE_WINDOW_MS: '10', NODE_ENV: 'staging' })).toThrow(
      ConfigError,
    );
    try {
      AnalyticsConfig.fromEnvironment({ ANALYTICS_DEDUPE_WINDOW_MS: '10', NODE_ENV: 'staging' });
    } catch (e) {
      expect((e as Error).message).toBe(
        'Invalid configuration: NODE_ENV must be one of the following values: development, test, production (got "staging"); ' +
          'ANALYTICS_DEDUPE_WINDOW_MS must not be less than 1000 (got "10")',
      );
    }
  });

  it('describes a URL without its credentials', () => {
    expect(AnalyticsConfig.describeUrl('postgresql://admin:secret@db.internal:6543/analytics')).toBe(
      'db.internal:6543/analytics',
    );
  });
});
