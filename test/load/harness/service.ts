import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { Client, Pool } from 'pg';
import { createDatabaseIfMissing, runMigrations } from '../../../src/database/database-preparation';
import { seedTenant } from '../../support/tenants';
import { freePort } from '../../support/worker-process';
import { Child } from './children';
import { dbUrl, settings } from './config';
import { sleep } from './stats';

const DIST_SRC = join(__dirname, '..', '..', '..', 'src');

export async function adminQuery(sql: string): Promise<void> {
  const c = new Client({ connectionString: settings.adminUrl });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

export async function dropDatabase(name: string): Promise<void> {
  await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

/** A fresh database with every migration applied (dropped first if a previous run left it). */
export async function freshDatabase(name: string): Promise<string> {
  await dropDatabase(name);
  const url = dbUrl(name);
  await createDatabaseIfMissing(url);
  await runMigrations(url);
  return url;
}

/** Deletes every Redis key under the run's prefix (queues, dedupe keys, rate-limit counters). */
export async function dropRedisKeys(prefix: string): Promise<number> {
  const redis = new Redis(settings.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  let n = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) n += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return n;
}

/**
 * The service as it runs in production: the api (dist/src/main.js) and the worker
 * (dist/src/worker.js), each its own process, on a freshly migrated database `analytics_load` with
 * its own Redis prefix, and a tenant with an ingest key.
 */
export class Service {
  api!: Child;
  worker!: Child;
  port = 0;
  tenant = '';
  ingestKey = '';
  db!: Pool;
  queue!: Queue;
  private env: NodeJS.ProcessEnv = {};

  /** `extraEnv`: variables on top of the harness's own (the telemetry comparison turns metrics, logs and traces on and off). */
  constructor(private readonly extraEnv: NodeJS.ProcessEnv = {}) {}

  async start(): Promise<void> {
    const url = await freshDatabase(settings.database);
    this.db = new Pool({ connectionString: url, max: 4 });
    this.tenant = randomUUID();
    this.ingestKey = (await seedTenant(this.db, this.tenant, { name: 'load harness' })).ingest;
    this.port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'production',
      PORT: String(this.port),
      HOST: '127.0.0.1',
      ANALYTICS_METRICS_PORT: '0',
      ANALYTICS_WORKER_PORT: '0',
      LOG_LEVEL: 'log',
      NO_COLOR: '1',
      DATABASE_URL: url,
      REDIS_URL: settings.redisUrl,
      ANALYTICS_REDIS_PREFIX: settings.redisPrefix,
      ANALYTICS_MAX_PAYLOAD_KB: String(settings.maxPayloadKb),
      // The harness measures the pipeline, not the tenant's rate limit.
      ANALYTICS_RATE_LIMIT_RPS: '10000000',
      ANALYTICS_RATE_LIMIT_EPS: '100000000',
      // Low enough for the degradation run to reach it in seconds, far above any other run's backlog.
      ANALYTICS_MAX_QUEUE_BACKLOG: String(settings.maxBacklog),
      ...this.extraEnv,
    };
    this.env = env;
    this.worker = new Child('worker', join(DIST_SRC, 'worker.js'), env, settings.nodeArgs);
    this.api = new Child('api', join(DIST_SRC, 'main.js'), env, settings.nodeArgs);
    this.queue = new Queue('ingest', {
      connection: { host: new URL(settings.redisUrl).hostname, port: Number(new URL(settings.redisUrl).port || 6379) },
      prefix: `${settings.redisPrefix}:bull`,
    });
    await Promise.all([this.api.waitFor(/Listening on/, 60_000), this.worker.waitFor(/Consuming queues/, 60_000)]);
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`http://127.0.0.1:${this.port}/api/v1/analytics/health`)).ok) break;
      } catch {
        /* not up yet */
      }
      if (i > 150) throw new Error(`the service did not become healthy:\n${this.api.output()}`);
      await sleep(200);
    }
  }

  /** Stops the worker process (the degradation run); the api goes on taking events. */
  async stopWorker(): Promise<void> {
    await this.worker.stop();
  }

  /** Starts a new worker process and waits until it consumes the queues. */
  async startWorker(): Promise<void> {
    this.worker = new Child('worker', join(DIST_SRC, 'worker.js'), this.env, settings.nodeArgs);
    await this.worker.waitFor(/Consuming queues/, 60_000);
  }

  /** The reason the run must stop, if either role has died. */
  crashed(): string | null {
    return this.api?.crashed ?? this.worker?.crashed ?? null;
  }

  get headers(): Record<string, string> {
    return { authorization: `Bearer ${this.ingestKey}` };
  }

  async stop(): Promise<void> {
    await this.db?.end().catch(() => undefined);
    await this.queue?.close().catch(() => undefined);
    await Promise.all([this.api?.stop(), this.worker?.stop()]);
  }
}
