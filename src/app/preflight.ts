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
export async function checkDependencies(
  config: AnalyticsConfig,
  warn: (line: string) => void = () => undefined,
): Promise<void> {
  await checkPostgres(config);
  await checkRedis(config, warn);
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

async function checkRedis(config: AnalyticsConfig, warn: (line: string) => void): Promise<void> {
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
    try {
      await redis.connect();
      await redis.ping();
    } catch (err) {
      throw new PreflightError(
        `Cannot reach Redis at ${host}:${port} (REDIS_URL): ${(cause ?? (err as Error)).message}`,
      );
    }
    if (config.env === 'production') {
      for (const line of checkRedisDurability(await readRedisDurability(redis), `${host}:${port}`)) warn(line);
    }
  } finally {
    redis.disconnect();
  }
}

/** What start-up could learn of Redis's persistence and eviction; null where it could not. */
export interface RedisDurability {
  /** AOF on (appendonly yes / aof_enabled:1). */
  aof: boolean | null;
  maxmemoryPolicy: string | null;
  /** Why CONFIG GET could not be used (managed Redis often disables it), when it could not. */
  configError: string | null;
}

/**
 * Reads appendonly and maxmemory-policy with CONFIG GET; where CONFIG is refused (managed Redis
 * renames or disables it), falls back to INFO (persistence: aof_enabled; memory: maxmemory_policy).
 */
export async function readRedisDurability(redis: Redis): Promise<RedisDurability> {
  let configError: string | null = null;
  try {
    const aof = (await redis.config('GET', 'appendonly')) as string[];
    const policy = (await redis.config('GET', 'maxmemory-policy')) as string[];
    if (aof.length === 2 && policy.length === 2)
      return { aof: aof[1] === 'yes', maxmemoryPolicy: policy[1], configError: null };
    configError = 'CONFIG GET answered nothing';
  } catch (err) {
    configError = (err as Error).message;
  }
  const field = (info: string, name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? null;
  const persistence = await redis.info('persistence').catch(() => '');
  const memory = await redis.info('memory').catch(() => '');
  const aofEnabled = field(persistence, 'aof_enabled');
  return {
    aof: aofEnabled === null ? null : aofEnabled === '1',
    maxmemoryPolicy: field(memory, 'maxmemory_policy'),
    configError,
  };
}

/**
 * Production start-up's verdict on Redis: a PreflightError when Redis may evict keys (the queued
 * jobs, dedupe claims and counters would vanish silently under memory pressure), else the warnings
 * to log: no AOF (a Redis restart loses every queued job: events acknowledged 202 but not yet
 * stored are lost), and what could not be checked.
 */
export function checkRedisDurability(d: RedisDurability, where: string): string[] {
  const warnings: string[] = [];
  if (d.maxmemoryPolicy !== null && d.maxmemoryPolicy !== 'noeviction') {
    throw new PreflightError(
      `Redis at ${where} (REDIS_URL) has maxmemory-policy ${d.maxmemoryPolicy}: it may evict queued jobs and dedupe keys under memory pressure, losing acknowledged events; set maxmemory-policy noeviction`,
    );
  }
  if (d.configError) {
    const unchecked = [d.aof === null ? 'appendonly' : '', d.maxmemoryPolicy === null ? 'maxmemory-policy' : '']
      .filter(Boolean)
      .join(' and ');
    warnings.push(
      `Redis at ${where} (REDIS_URL) refused CONFIG GET (${d.configError}); read INFO instead` +
        (unchecked ? `, which did not tell ${unchecked}: not checked` : ''),
    );
  }
  if (d.aof === false) {
    warnings.push(
      `Redis at ${where} (REDIS_URL) has no AOF (appendonly no): a Redis restart loses the queued jobs, so events acknowledged 202 but not yet stored are lost; set appendonly yes (appendfsync everysec) for durable acknowledgements`,
    );
  }
  return warnings;
}
