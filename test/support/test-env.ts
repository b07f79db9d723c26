import { randomBytes } from 'node:crypto';
import { INestApplicationContext } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { Pool } from 'pg';
import { createApiApp } from '../../src/app/bootstrap';
import { TelemetryOverrides } from '../../src/app/telemetry';
import { createWorkerContext } from '../../src/app/worker-context';
import { QueueName } from '../../src/modules/contracts/jobs';
import { AnalyticsConfig } from '../../src/modules/config/analytics-config';
import { ClickHouse } from '../../src/database/clickhouse';
import { watchContract } from './contract';
import { RUN_ID, runDatabase, TEMPLATE_DB, urlFor, withAdmin } from './database';
import { OPERATOR_TENANT, OTHER_TENANT, TENANT, TenantKeys, seedTenant } from './tenants';

export interface HttpAnswer {
  status: number;
  headers: Headers;
  json: any;
  text: string;
}

export async function request(url: string, init: RequestInit = {}): Promise<HttpAnswer> {
  const res = await fetch(url, init);
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, json, text };
}

/** The storage backends the backend-dependent suites run on: Postgres, one ClickHouse server, two as shards. */
export type StorageKind = 'postgres' | 'clickhouse' | 'clickhouse-sharded';
export const STORAGE_KINDS: StorageKind[] = (process.env.TEST_STORAGE ?? 'postgres,clickhouse,clickhouse-sharded')
  .split(',')
  .map((s) => s.trim() as StorageKind);

/** The variables that put a test file's events and rollups on a backend (a ClickHouse database of its own). */
function storageEnv(storage: StorageKind, id: string): Record<string, string> {
  if (storage === 'postgres') return {};
  const urls = storage === 'clickhouse' ? process.env.TEST_CLICKHOUSE_URL : process.env.TEST_CLICKHOUSE_SHARD_URLS;
  if (!urls) throw new Error('no ClickHouse for the tests: the global setup starts it (TEST_CLICKHOUSE_URL)');
  return {
    ANALYTICS_STORAGE: 'clickhouse',
    CLICKHOUSE_URL: urls,
    CLICKHOUSE_DATABASE: `analytics_t_${RUN_ID}_${id}`,
    ...(storage === 'clickhouse-sharded' ? { CLICKHOUSE_CLUSTER: process.env.TEST_CLICKHOUSE_CLUSTER! } : {}),
  };
}

export interface TestEnv {
  config: AnalyticsConfig;
  storage: StorageKind;
  /** The ClickHouse of the file's events (null on Postgres), for assertions on what it stores. */
  ch: ClickHouse | null;
  env: Record<string, string>;
  /** Changes variables for the roles started from now on. */
  reconfigure(overrides: Record<string, string>): void;
  dbName: string;
  db: Pool;
  redis: Redis;
  /** Base URL of the running api, e.g. http://127.0.0.1:41234 */
  url: string;
  api: NestExpressApplication | null;
  worker: INestApplicationContext | null;
  ingestQueue: Queue;
  /** Tenant of the test events, another tenant, and an operator tenant; one key per scope each. */
  tenant: TenantKeys;
  other: TenantKeys;
  operator: TenantKeys;
  /** POSTs JSON (or a raw string) with an API key, the tenant's ingest key unless told. */
  post(path: string, body: unknown, key?: string | null, headers?: Record<string, string>): Promise<HttpAnswer>;
  /** GETs, with the key given (none when omitted). */
  get(path: string, key?: string | null, headers?: Record<string, string>): Promise<HttpAnswer>;
  /** Starts the api, on a free port unless one is given (a restart on the same port). */
  startApi(port?: number): Promise<void>;
  startWorker(): Promise<void>;
  stopWorker(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A private world for one test file: a database cloned from the migrated template and a Redis key
 * prefix of its own, so files run in parallel against the same servers without seeing each other.
 */
export async function createTestEnv(
  overrides: Record<string, string> = {},
  opts: {
    api?: boolean;
    worker?: boolean;
    telemetry?: { api?: TelemetryOverrides; worker?: TelemetryOverrides };
    storage?: StorageKind;
  } = {},
): Promise<TestEnv> {
  const id = randomBytes(4).toString('hex');
  const dbName = runDatabase(id);
  await withAdmin((c) => c.query(`CREATE DATABASE ${dbName} TEMPLATE ${TEMPLATE_DB}`));
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    DATABASE_URL: urlFor(dbName),
    REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    ANALYTICS_REDIS_PREFIX: `t${id}`,
    ANALYTICS_AUTO_MIGRATE: 'false',
    LOG_LEVEL: 'error',
    PORT: '0',
    HOST: '127.0.0.1',
    ANALYTICS_METRICS_PORT: '0',
    ANALYTICS_WORKER_PORT: '0',
    ANALYTICS_JOB_BACKOFF_MS: '100',
    ...storageEnv(opts.storage ?? 'postgres', id),
    ...overrides,
  };
  const config = AnalyticsConfig.fromEnvironment(env);
  const db = new Pool({ connectionString: config.database.url, max: 4 });
  const redis = new Redis(config.redis.url);
  const ch =
    config.storage.backend === 'clickhouse'
      ? new ClickHouse(
          config.storage.clickhouse.urls,
          config.storage.clickhouse.database,
          config.storage.clickhouse.cluster,
        )
      : null;
  const ingestQueue = new Queue(QueueName.Ingest, {
    connection: { host: config.redis.host, port: config.redis.port },
    prefix: `${config.redis.prefix}:bull`,
  });

  const tenant = await seedTenant(db, TENANT, { name: 'acme' });
  const other = await seedTenant(db, OTHER_TENANT, { name: 'globex' });
  const operator = await seedTenant(db, OPERATOR_TENANT, { name: 'operators', operator: true });
  const auth = (key: string | null | undefined): Record<string, string> =>
    key ? { authorization: `Bearer ${key}` } : {};

  const t: TestEnv = {
    config,
    storage: opts.storage ?? 'postgres',
    ch,
    env,
    dbName,
    db,
    redis,
    ingestQueue,
    tenant,
    other,
    operator,
    url: '',
    post(path, body, key = tenant.ingest, headers = {}) {
      return request(`${t.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth(key), ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    },
    get(path, key, headers = {}) {
      return request(`${t.url}${path}`, { headers: { ...auth(key), ...headers } });
    },
    reconfigure(overrides) {
      Object.assign(t.env, overrides);
      t.config = AnalyticsConfig.fromEnvironment(t.env);
    },
    api: null,
    worker: null,
    async startApi(port = 0) {
      const app = await createApiApp(t.config, opts.telemetry?.api);
      watchContract(app.getHttpServer());
      await app.listen(port, '127.0.0.1');
      const addr = app.getHttpServer().address() as { port: number };
      t.api = app;
      t.url = `http://127.0.0.1:${addr.port}`;
    },
    async startWorker() {
      t.worker = await createWorkerContext(t.config, opts.telemetry?.worker);
    },
    async stopWorker() {
      await t.worker?.close();
      t.worker = null;
    },
    async close() {
      await t.api?.close();
      await t.worker?.close();
      await ingestQueue.close();
      const keys = await scanKeys(redis, `${config.redis.prefix}:*`);
      for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
      redis.disconnect();
      if (ch) {
        await ch.each(`DROP DATABASE IF EXISTS ${ch.database}`);
        await ch.close();
      }
      await db.end();
      await withAdmin(async (c) => {
        // Connections being closed are let go first: FORCE would terminate them and their pool would
        // raise the termination as an unhandled error.
        for (let i = 0; i < 50; i++) {
          if (
            (await c.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [dbName])).rows[0]
              .n === 0
          )
            break;
          await new Promise((r) => setTimeout(r, 100));
        }
        await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      });
    },
  };
  if (opts.api !== false) await t.startApi();
  if (opts.worker !== false) await t.startWorker();
  return t;
}

async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}
