/**
 * npm run bench:ingest — a short load run of single-event and batch ingestion against a freshly
 * started service (api + worker, real Postgres and Redis). Prints requests/s, latency percentiles
 * (from every response, not autocannon's summary) and events persisted/s, counted in Postgres.
 *
 *   BENCH_SECONDS=10 BENCH_CONNECTIONS=50 BENCH_SUSTAINED_RATE=40 npm run bench:ingest
 */
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import { Queue } from 'bullmq';
import { Client } from 'pg';
import { makeEvent } from '../support/events';
import { percentile, round } from './harness/stats';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const PORT = Number(process.env.BENCH_PORT ?? 3100);
const SUSTAINED_RATE = Number(process.env.BENCH_SUSTAINED_RATE ?? 40);
const ADMIN_URL = process.env.BENCH_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const DB = 'analytics_bench';
const PREFIX = `bench${process.pid}`;
let TENANT = '';
let KEY = '';
let REPORT_KEY = '';

function dbUrl(name: string): string {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A load event; each scenario's carry a site id of their own, so that each scenario counts only its own rows. */
const event = (site: string) =>
  makeEvent({
    tenant_id: TENANT,
    site_id: site,
    attributes: { 'voice.turn_id': 't-1', 'voice.first_response_ms': Math.round(Math.random() * 900) },
  });

const round1 = (x: number) => round(x, 1);

async function admin(sql: string): Promise<void> {
  const c = new Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

async function waitHealthy(): Promise<void> {
  for (let i = 0; i < 150; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${PORT}/api/v1/analytics/health`)).ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the service did not become healthy');
}

interface Scenario {
  name: string;
  path: string;
  batch: number;
  connections: number;
  freshness?: boolean;
  /** requests/s offered in all; unset: as fast as answered */ rate?: number;
}

/**
 * Freshness under load: marker events (each with a site id of its own) are sent while the load
 * runs, and the timeseries is polled until each one is visible. Milliseconds from the 202 to the
 * report showing it.
 */
async function measureFreshness(until: () => boolean): Promise<number[]> {
  const delays: number[] = [];
  const api = `http://127.0.0.1:${PORT}/api/v1/analytics`;
  while (!until()) {
    const site = randomUUID();
    const event = { ...makeEvent({ tenant_id: TENANT, event_name: 'voice.barge_in', site_id: site }) };
    const sent = await fetch(`${api}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify(event),
    });
    if (sent.status !== 202) continue;
    const acceptedAt = performance.now();
    const minute = Math.floor(Date.parse(event.occurred_at as string) / 60_000) * 60_000;
    const body = JSON.stringify({
      tenantId: TENANT,
      metric: 'voice.barge_in_count',
      grain: '1m',
      site_id: site,
      from: new Date(minute).toISOString(),
      to: new Date(minute + 60_000).toISOString(),
    });
    for (let i = 0; i < 500; i++) {
      const res = await fetch(`${api}/reports/timeseries`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${REPORT_KEY}` },
        body,
      });
      const json = (await res.json()) as { points?: { value: number }[] };
      if (json.points?.[0]?.value === 1) {
        delays.push(performance.now() - acceptedAt);
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return delays;
}

async function run(s: Scenario, db: Client, queue: Queue) {
  const site = randomUUID();
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  const started = Date.now();
  let finish!: (r: autocannon.Result) => void;
  let fail!: (e: unknown) => void;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const instance = autocannon(
    {
      url: `http://127.0.0.1:${PORT}${s.path}`,
      method: 'POST',
      connections: s.connections,
      duration: SECONDS,
      ...(s.rate ? { overallRate: s.rate } : {}),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      requests: [
        {
          setupRequest: (req: autocannon.Request) => ({
            ...req,
            body: JSON.stringify(
              s.batch === 1 ? event(site) : { events: Array.from({ length: s.batch }, () => event(site)) },
            ),
          }),
        },
      ],
    },
    (err, res) => (err ? fail(err) : finish(res)),
  );
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    latencies.push(ms);
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  });
  let loadDone = false;
  const freshness = s.freshness ? measureFreshness(() => loadDone) : Promise.resolve([] as number[]);
  let ticks = 0;
  const progress = setInterval(() => {
    ticks++;
    process.stderr.write(`\r  ${s.name}: ${ticks}/${SECONDS}s, ${latencies.length} responses   `);
  }, 1000);
  const result = await done;
  clearInterval(progress);
  loadDone = true;
  const fresh = (await freshness).sort((a, b) => a - b);
  const loadEnded = Date.now();
  process.stderr.write(`\r  ${s.name}: load done, waiting for the queue to drain...        `);
  for (;;) {
    const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    if (c.waiting + c.active + c.delayed + c.prioritized === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const drainedAt = Date.now();
  process.stderr.write('\n');
  // Requests still in flight when autocannon stopped may land a moment after the drain: wait for the count to settle.
  let persisted = -1;
  for (;;) {
    const n = Number(
      (await db.query('SELECT count(*) AS n FROM analytics_events_raw WHERE site_id = $1', [site])).rows[0].n,
    );
    if (n === persisted) break;
    persisted = n;
    await new Promise((r) => setTimeout(r, 500));
  }
  const doubled = Number(
    (await db.query(`SELECT count(*) - count(DISTINCT (tenant_id, event_id)) AS n FROM analytics_events_raw`)).rows[0]
      .n,
  );
  // the load's events (the freshness markers carry sites of their own)
  const accepted = (statuses.get(202) ?? 0) * s.batch;
  latencies.sort((a, b) => a - b);
  return {
    scenario: s.name,
    connections: s.connections,
    requests: result.requests.total,
    req_per_s: Math.round(result.requests.total / SECONDS),
    p50_ms: round1(percentile(latencies, 50)),
    p95_ms: round1(percentile(latencies, 95)),
    p99_ms: round1(percentile(latencies, 99)),
    non_202:
      [...statuses]
        .filter(([k]) => k !== 202)
        .map(([k, v]) => `${k}:${v}`)
        .join(' ') || '0',
    events_answered_202: accepted,
    // Requests still in flight when autocannon stops are served, but their answers are not counted.
    events_in_flight_max: s.connections * s.batch,
    events_persisted: persisted,
    stored_twice: doubled,
    persisted_per_s: Math.round(persisted / ((drainedAt - started) / 1000)),
    drain_after_load_ms: drainedAt - loadEnded,
    ...(s.freshness
      ? {
          freshness_p50_ms: round1(percentile(fresh, 50)),
          freshness_p95_ms: round1(percentile(fresh, 95)),
          freshness_samples: fresh.length,
        }
      : {}),
  };
}

async function main(): Promise<void> {
  await admin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  const env = {
    ...process.env,
    NODE_ENV: 'development',
    PORT: String(PORT),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    DATABASE_URL: dbUrl(DB),
    ANALYTICS_REDIS_PREFIX: PREFIX,
    // The benchmark measures the pipeline, not the tenant's rate limit.
    ANALYTICS_RATE_LIMIT_RPS: '10000000',
    ANALYTICS_RATE_LIMIT_EPS: '100000000',
  };
  const svc: ChildProcess = spawn(process.execPath, [join(__dirname, '..', '..', 'src', 'launcher.js')], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  svc.stdout!.on('data', (d) => {
    out += d;
  });
  const db = new Client({ connectionString: dbUrl(DB) });
  const queue = new Queue('ingest', { connection: { host: '127.0.0.1', port: 6379 }, prefix: `${PREFIX}:bull` });
  try {
    await waitHealthy();
    // A fresh development database seeds a demo tenant; the launcher prints its keys once both roles are ready.
    for (let i = 0; i < 150 && !/^\s+admin\s+ak_\S+$/m.test(out); i++) await new Promise((r) => setTimeout(r, 200));
    TENANT = /Created demo tenant ([0-9a-f-]{36})/.exec(out)?.[1] ?? '';
    KEY = /^\s+ingest\s+(ak_\S+)$/m.exec(out)?.[1] ?? '';
    REPORT_KEY = /^\s+report\s+(ak_\S+)$/m.exec(out)?.[1] ?? '';
    if (!TENANT || !KEY) throw new Error('the service did not print a demo tenant and ingest key');
    await db.connect();
    console.error(`Service up on :${PORT}; ${SECONDS}s per scenario`);
    const rows = [];
    for (const s of [
      { name: 'single events', path: '/api/v1/analytics/events', batch: 1, connections: CONNECTIONS },
      {
        name: 'batches of 100',
        path: '/api/v1/analytics/events/batch',
        batch: 100,
        connections: Math.max(1, Math.round(CONNECTIONS / 5)),
        freshness: true,
      },
      // Freshness at a load the worker sustains: the one-second target is about this case.
      {
        name: `batches of 100 at ${SUSTAINED_RATE} req/s`,
        path: '/api/v1/analytics/events/batch',
        batch: 100,
        connections: 10,
        rate: SUSTAINED_RATE,
        freshness: true,
      },
    ])
      rows.push(await run(s, db, queue));
    console.table(rows);
    const bad = rows.filter(
      (r) =>
        r.stored_twice !== 0 ||
        r.events_persisted < r.events_answered_202 ||
        r.events_persisted > r.events_answered_202 + r.events_in_flight_max,
    );
    if (bad.length) {
      console.error(
        `MISMATCH in ${bad.map((r) => r.scenario).join(', ')}: an answered event is missing or one is stored twice`,
      );
      process.exitCode = 1;
    } else {
      console.error('Every event answered 202 is in Postgres, none twice (counted).');
    }
  } finally {
    await db.end().catch(() => undefined);
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    svc.kill('SIGTERM');
    await new Promise((r) => svc.once('exit', r));
    await admin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
