/**
 * Chaos run: "acknowledged means stored". Starts its own Redis and Postgres, 2 api and 2 worker
 * processes, an at-least-once client, and a schedule of faults (kill -9 and SIGTERM of apis and
 * workers, Redis SIGKILL and restart on its AOF, Postgres immediate restart and a 20 s outage);
 * then drains and checks that every event answered accepted or duplicate is stored exactly once,
 * that nothing refused is stored, and that the rollups match a recount of the raw rows.
 *
 *   node dist/test/chaos/chaos-run.js           CHAOS_SECONDS=360 (default), the long schedule
 *   CHAOS_SHORT=1 node dist/test/chaos/chaos-run.js   45 s, the reduced schedule (CI)
 *
 * Exits 0 only when lost = 0, stored twice = 0 and stored but refused = 0. Writes
 * results/chaos-<timestamp>.md.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Pool } from 'pg';
import { createDatabaseIfMissing, runMigrations } from '../../src/database/database-preparation';
import { seedTenant } from '../support/tenants';
import { freePort } from '../support/worker-process';
import { AtLeastOnceClient, Target } from './client';
import { FaultInjector, schedule } from './faults';
import { PostgresCluster, RedisServer, removeTempDirs, sleep } from './infra';
import { passed, renderReport } from './report';
import { Role } from './roles';
import { verify } from './verify';

function num(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number (got ${JSON.stringify(raw)})`);
  return n;
}

const SHORT = process.env.CHAOS_SHORT === '1' || process.env.CHAOS_SHORT === 'true';
const SECONDS = num('CHAOS_SECONDS', SHORT ? 45 : 360);
const IS_SHORT = SECONDS < 120;
const SENDERS = Math.round(num('CHAOS_SENDERS', 8));
const SETTLE_S = num('CHAOS_SETTLE_SECONDS', IS_SHORT ? 20 : 40);
const DRAIN_S = num('CHAOS_DRAIN_SECONDS', IS_SHORT ? 45 : 120);
const PREFIX = 'chaos';
const ROOT = join(__dirname, '..', '..', '..');

const log = (line: string) => console.log(`[chaos ${new Date().toISOString().slice(11, 23)}] ${line}`);

let cleanupStarted: Promise<void> | null = null;
const cleanups: (() => Promise<void>)[] = [];

/** Stops every process of the run and removes its temp dirs; safe to call more than once. */
function cleanup(): Promise<void> {
  cleanupStarted ??= (async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch((err: Error) => log(`cleanup: ${err.message}`));
    if (process.env.CHAOS_KEEP_DIRS !== '1') removeTempDirs();
  })();
  return cleanupStarted;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: stopping`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function main(): Promise<number> {
  const startedAt = new Date();
  // Whatever happens, the run ends: setup, load, settle, drain and verification have this long.
  const watchdog = setTimeout(
    () => {
      log('the run outlived its time limit: stopping');
      void cleanup().finally(() => process.exit(3));
    },
    (SECONDS + SETTLE_S + DRAIN_S + 180) * 1000,
  );
  watchdog.unref();

  log(`${IS_SHORT ? 'short' : 'long'} run: ${SECONDS} s of load, ${SENDERS} senders`);
  const redis = new RedisServer(await freePort());
  const pg = new PostgresCluster(await freePort());
  cleanups.push(async () => {
    await pg.stop('immediate');
  });
  cleanups.push(() => redis.stop());
  await pg.init();
  await pg.start();
  await redis.start();
  log(`postgres on 127.0.0.1:${pg.port}, redis on 127.0.0.1:${redis.port}`);

  const dbUrl = pg.url('analytics_chaos');
  await createDatabaseIfMissing(dbUrl);
  await runMigrations(dbUrl);
  const db = new Pool({ connectionString: dbUrl, max: 2 });
  db.on('error', () => undefined);
  cleanups.push(() => db.end());
  const tenants: { id: string; ingestKey: string; site: string }[] = [];
  for (const name of ['chaos tenant a', 'chaos tenant b']) {
    const id = randomUUID();
    tenants.push({ id, ingestKey: (await seedTenant(db, id, { name })).ingest, site: randomUUID() });
  }
  log('database migrated, 2 tenants seeded');

  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'log',
    NO_COLOR: '1',
    DATABASE_URL: dbUrl,
    REDIS_URL: redis.url,
    ANALYTICS_REDIS_PREFIX: PREFIX,
    ANALYTICS_AUTO_MIGRATE: 'false',
    ANALYTICS_SWAGGER_ENABLED: 'false',
    // The run is about faults, not the tenant's rate limit.
    ANALYTICS_RATE_LIMIT_RPS: '10000000',
    ANALYTICS_RATE_LIMIT_EPS: '100000000',
    // A killed worker's jobs are taken over within seconds, not the default 30 s.
    ANALYTICS_WORKER_LOCK_MS: '5000',
    ANALYTICS_JOB_BACKOFF_MS: '500',
  };
  const apis = [0, 1].map(async (i) => new Role(`api-${i + 1}`, 'api', env, await freePort(), log));
  const workers = [0, 1].map(async (i) => new Role(`worker-${i + 1}`, 'worker', env, await freePort(), log));
  const roles = [...(await Promise.all(apis)), ...(await Promise.all(workers))];
  cleanups.push(async () => {
    await Promise.all(roles.map((r) => r.stop(5000)));
  });
  await Promise.all(roles.map((r) => r.start()));
  log(
    `started ${roles.map((r) => `${r.name} (pid ${r.pid}${r.kind === 'api' ? `, port ${r.port}` : ''})`).join(', ')}`,
  );

  const targets: Target[] = roles
    .filter((r) => r.kind === 'api')
    .map((r) => ({
      name: r.name,
      base: r.base,
      inflight: 0,
      get ready() {
        return r.ready;
      },
    }));
  const loadStart = Date.now();
  const loadEnd = loadStart + SECONDS * 1000;
  const client = new AtLeastOnceClient({
    senders: SENDERS,
    tenants,
    apis: targets,
    loadEnd,
    giveUpAt: loadEnd + SETTLE_S * 1000,
    batchShare: 0.35,
    maxBatch: 20,
  });
  cleanups.push(() => Promise.resolve(client.abort()));
  const stack = {
    apis: roles.filter((r) => r.kind === 'api'),
    workers: roles.filter((r) => r.kind === 'worker'),
    redis,
    pg,
    inflight: (name: string) => targets.find((t) => t.name === name)?.inflight ?? 0,
  };
  const injector = new FaultInjector(stack, log);
  cleanups.push(() => Promise.resolve(injector.stop()));
  const plan = schedule(SECONDS);
  log(`load started; ${plan.length} faults planned`);
  const progress = setInterval(() => {
    const acked = [...client.events.values()].filter((e) => e.final === 'accepted' || e.final === 'duplicate').length;
    log(`t=${((Date.now() - loadStart) / 1000).toFixed(0)}s: ${client.events.size} events sent, ${acked} acknowledged`);
  }, 10_000);
  await Promise.all([client.run(), injector.run(plan, loadStart, loadEnd)]);
  clearInterval(progress);
  log(`load stopped: ${client.events.size} events sent in ${client.requests} requests`);

  // Every process killed back up, then the workers drain the queue and the rollup fold.
  await injector.settled();
  const drain = await drainQueue(redis.url, db, DRAIN_S * 1000);
  log(drain.drained ? `drained in ${(drain.ms / 1000).toFixed(1)} s` : `not drained after ${DRAIN_S} s: ${drain.left}`);

  const v = await verify(
    db,
    tenants.map((t) => t.id),
    client.events,
  );
  // Recovery: the first acknowledged answer to an attempt sent after the fault.
  const records = injector.records;
  const faults = records.map((record, i) => {
    let first = Infinity;
    for (const a of client.acks) if (a.sent >= record.at && a.at < first) first = a.at;
    // Lost events are put down to the last fault dealt before their first failed attempt ended.
    const lost = v.lost.filter((id) => {
      const failedAt = client.events.get(id)!.failedAt;
      return failedAt !== null && failedAt >= record.at && (i + 1 >= records.length || failedAt < records[i + 1].at);
    }).length;
    return { record, loadStart, firstAckMs: Number.isFinite(first) ? first - record.at : null, lost };
  });
  const report = renderReport(v, {
    startedAt,
    seconds: SECONDS,
    short: IS_SHORT,
    senders: SENDERS,
    requests: client.requests,
    attempts: client.attempts,
    drain,
    failedJobs: drain.failed,
    statuses: client.statuses,
    faults,
    roles,
    skippedKills: injector.skipped,
  });
  console.log(`\n${report}`);
  const dir = join(ROOT, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `chaos-${startedAt.toISOString().replace(/[:.]/g, '-')}.md`);
  writeFileSync(file, report);
  const ok = passed(v);
  console.log(
    `CHAOS RESULT ${ok ? 'PASS' : 'FAIL'} acknowledged=${v.acknowledged} lost=${v.lost.length} stored_twice=${v.storedTwice.length} stored_refused=${v.storedRefused.length} drained=${drain.drained}`,
  );
  log(`report written to ${file}`);
  clearTimeout(watchdog);
  return ok ? 0 : 1;
}

/** Waits (bounded) until no job is waiting, active or delayed and the rollup fold has nothing pending, twice in a row. */
async function drainQueue(redisUrl: string, db: Pool, timeoutMs: number) {
  const url = new URL(redisUrl);
  const queue = new Queue('ingest', {
    connection: { host: url.hostname, port: Number(url.port), maxRetriesPerRequest: 1 },
    prefix: `${PREFIX}:bull`,
  });
  queue.on('error', () => undefined);
  const started = Date.now();
  let left = '';
  let failed = 0;
  let quiet = 0;
  try {
    while (Date.now() - started < timeoutMs) {
      try {
        const c = await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'paused', 'failed');
        const pending = Number(
          (await db.query<{ n: string }>('SELECT count(*)::text AS n FROM analytics_rollup_pending')).rows[0].n,
        );
        failed = c.failed ?? 0;
        const jobs = (c.wait ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0) + (c.paused ?? 0);
        left = `${jobs} job(s) in the queue, ${pending} event(s) not folded`;
        quiet = jobs === 0 && pending === 0 ? quiet + 1 : 0;
        if (quiet >= 2) return { drained: true, ms: Date.now() - started, left: '', failed };
      } catch (err) {
        left = `cannot read the queue: ${(err as Error).message}`;
        quiet = 0;
      }
      await sleep(1000);
    }
    return { drained: false, ms: Date.now() - started, left, failed };
  } finally {
    await queue.close().catch(() => undefined);
  }
}

void main()
  .then(
    async (code) => {
      await cleanup();
      return code;
    },
    async (err: Error) => {
      console.error(`chaos run failed: ${err.stack ?? err.message}`);
      await cleanup();
      return 2;
    },
  )
  .then((code) => process.exit(code));
