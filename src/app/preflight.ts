import { Client } from 'pg';
import Redis from 'ioredis';
import { redisOptions } from '../common/redis.provider';
import { AnalyticsConfig } from '../modules/config/analytics-config';
import { databaseName } from '../database/database-preparation';

/** A dependency that cannot be reached at start-up: the message is printed as one line. */
export class PreflightError extends Error {}

const TIMEOUT_MS = 5000;

/**
 * Checks, before Nest builds anything, that Postgres and Redis answer, so that a wrong address
 * ends start-up with one line naming the variable and the address instead of a retry loop.
 * When the database itself is missing and auto-migrate is on, the server answering is enough:
 * the database is created next.
 */
export async function checkDependencies(config: AnalyticsConfig): Promise<void> {
  await checkPostgres(config);
  await checkRedis(config);
}

async function checkPostgres(config: AnalyticsConfig): Promise<void> {
  const where = AnalyticsConfig.describeUrl(config.database.url);
  const client = new Client({ connectionString: config.database.url, connectionTimeoutMillis: TIMEOUT_MS });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === '3D000' && config.database.autoMigrate) return; // database missing: created next
    const hint =
      e.code === '3D000'
        ? ` (database "${databaseName(config.database.url)}" does not exist; run npm run migration:run or set ANALYTICS_AUTO_MIGRATE=true)`
        : '';
    throw new PreflightError(`Cannot reach PostgreSQL at ${where} (DATABASE_URL): ${e.message ?? String(err)}${hint}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function checkRedis(config: AnalyticsConfig): Promise<void> {
  const { host, port } = config.redis;
  // One try, no reconnection: start-up reports an unreachable Redis at once.
  const redis = new Redis({
    ...redisOptions(config, true),
    lazyConnect: true,
    connectTimeout: TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  let cause: Error | null = null; // ioredis reports the socket error here, and only "closed" below
  redis.on('error', (err: Error) => {
    cause ??= err;
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new PreflightError(`Cannot reach Redis at ${host}:${port} (REDIS_URL): ${(cause ?? (err as Error)).message}`);
  } finally {
    redis.disconnect();
  }
}
