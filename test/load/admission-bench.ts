/**
 * npm run bench:admission — what deciding a verdict costs, per call of 100 events, against the real
 * Redis and Postgres: the admission script for fresh events (consent, the claim and the seen-filter:
 * no ledger lookup), the same events resent after the dedupe window (the filter's bits are set, so
 * the ledger settles them), and the ledger lookup alone. Median and p95 of BENCH_CALLS calls each,
 * measured in one run; ratios to the fresh-event call.
 */
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { RedisClient } from '../../src/common/redis.provider';
import { StoredEvent } from '../../src/modules/contracts/stored-event';
import { AnalyticsConfig } from '../../src/modules/config/analytics-config';
import { Telemetry } from '../../src/modules/observability/telemetry.service';
import { AdmissionStore } from '../../src/modules/ingestion/admission.store';
import { EventsRepository } from '../../src/modules/storage/events.repository';
import { PostgresBreaker } from '../../src/database/postgres-breaker';
import { dataSourceOptions } from '../../src/database/data-source';
import { runMigrations } from '../../src/database/database-preparation';

const CALLS = Number(process.env.BENCH_CALLS ?? 300);
const SIZE = 100;
/** A tenant's retention and the secret its consent records are keyed with. */
const POLICY = { retentionDays: 30, pseudonymSecret: Buffer.alloc(32, 1) };
const ADMIN = process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const DB = `analytics_bench_admission_${process.pid}`;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function timed(label: string, calls: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < calls; i++) {
    const started = performance.now();
    await fn(i);
    ms.push(performance.now() - started);
  }
  ms.sort((a, b) => a - b);
  const median = quantile(ms, 0.5);
  console.log(
    `${label.padEnd(46)} median ${median.toFixed(2)} ms, p95 ${quantile(ms, 0.95).toFixed(2)} ms per call of ${SIZE} events (${((median * 1000) / SIZE).toFixed(1)} µs per event)`,
  );
  return median;
}

async function main(): Promise<void> {
  const admin = new Client({ connectionString: ADMIN });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${DB}`);
  const url = new URL(ADMIN);
  url.pathname = `/${DB}`;
  await runMigrations(url.toString());
  const config = AnalyticsConfig.fromEnvironment({
    ...process.env,
    NODE_ENV: 'test',
    DATABASE_URL: url.toString(),
    ANALYTICS_REDIS_PREFIX: `bench${process.pid}`,
  });
  const ds = new DataSource(dataSourceOptions(url.toString()));
  await ds.initialize();
  const redis = new RedisClient(config);
  await new Promise<void>((resolve) => (redis.status === 'ready' ? resolve() : redis.once('ready', () => resolve())));
  const store = new AdmissionStore(redis, new EventsRepository(ds), new PostgresBreaker(config), config, {
    dedupeHits: () => undefined,
  } as unknown as Telemetry);
  const tenant = randomUUID();
  const batches: StoredEvent[][] = Array.from({ length: CALLS }, () =>
    Array.from({ length: SIZE }, () => ({
      event_id: randomUUID(),
      event_name: 'kb.search',
      occurred_at: new Date().toISOString(),
      received_at: new Date().toISOString(),
      tenant_id: tenant,
      site_id: null,
      session_id: randomUUID(),
      user_id: null,
      source: 'web',
      attributes: {},
      context: null,
      payload: null,
    })),
  );
  const jobs = Array.from({ length: SIZE }, () => 'jbench');
  try {
    console.log(`Admission bench: ${CALLS} calls of ${SIZE} events each; Redis and Postgres on this machine`);
    const fresh = await timed('fresh events (claim + seen-filter)', CALLS, (i) =>
      store.admit(batches[i], POLICY, jobs),
    );
    // every event is stored: the ledger holds them, as the worker's statement would have written them
    await ds.query(
      `INSERT INTO analytics_dedupe_ledger (tenant_id, event_id, occurred_at)
       SELECT $1, unnest($2::uuid[]), now()`,
      [tenant, batches.flat().map((e) => e.event_id)],
    );
    await ds.query('ANALYZE analytics_dedupe_ledger');
    // the dedupe window ends: the claims go, the filter's bits stay
    for (let i = 0; i < CALLS; i++) await redis.del(...batches[i].map((e) => redis.key('dedupe', tenant, e.event_id)));
    const resent = await timed('resent after the window (filter hit → ledger)', CALLS, (i) =>
      store.admit(batches[i], POLICY, jobs),
    );
    const repo = new EventsRepository(ds);
    const lookup = await timed('ledger lookup alone', CALLS, (i) => repo.inLedger(batches[i], 1000));
    console.log(
      `ratios to a fresh call: resent after the window ${(resent / fresh).toFixed(2)}, ledger lookup alone ${(lookup / fresh).toFixed(2)}`,
    );
  } finally {
    const keys = await redis.keys(`bench${process.pid}:*`);
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
    redis.disconnect();
    await ds.destroy();
    await admin.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
    await admin.end();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
