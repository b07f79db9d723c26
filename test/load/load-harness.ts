/**
 * npm run test:analytics:load — the load harness. Starts the service (api and worker as separate
 * processes, on a fresh database `analytics_load` with its own Redis prefix) and drives it with
 * single events, batches of 100 and 500, a mix with duplicates and invalid events (closed loop,
 * autocannon), and open-loop runs at a fixed offered rate. Measures in the same run the ceilings
 * it is compared with: bare Express 5 and bare node:http answering the same bodies, and raw COPY
 * of the same rows into analytics_events_raw. Per scenario: requests/s, events/s accepted (from
 * the 202 bodies) and persisted (counted in Postgres), latency percentiles of every response,
 * the queue backlog over time, and the CPU share of every process. Fails (exit 1) if an accepted
 * event is missing or stored twice, or anything crashes; a missed target is only reported.
 *
 *   npm run test:analytics:load
 *   LOAD_SECONDS=5 LOAD_CONNECTIONS=50 LOAD_BATCH_CONNECTIONS=10 LOAD_RATE=600 LOAD_BATCH_RATE=30 npm run test:analytics:load
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import Redis from 'ioredis';
import { backlogNow, BacklogSampler } from './harness/backlog';
import { freePort } from '../support/worker-process';
import { Child, stopAll } from './harness/children';
import { closedLoop, LoadRun } from './harness/closed-loop';
import { BATCH_PATH, EVENTS_PATH, settings } from './harness/config';
import { copyCeiling } from './harness/copy-ceiling';
import { openLoop, OpenLoopRun } from './harness/open-loop';
import { progress } from './harness/progress';
import { cpuShares, cpuSnapshot, setOwnDatabases, Watched } from './harness/proc-cpu';
import { ledgerCost, parseValidateCost } from './harness/work-floor';
import { Degradation, markdown, ownCpu, Report, Row, Target } from './harness/report';
import { dropDatabase, dropRedisKeys, freshDatabase, Service } from './harness/service';
import { fmt, latencySummary, pct, round, sleep } from './harness/stats';
import { PlainTraffic, RequestSource, ScenarioTraffic } from './harness/traffic';

const S = settings.seconds;
const statusRecord = (m: Map<number, number>) => Object.fromEntries([...m].map(([k, v]) => [String(k), v]));

interface Drive {
  name: string;
  mode: 'closed' | 'open';
  port: number;
  path: string;
  headers: Record<string, string>;
  source: RequestSource;
  connections?: number;
  rate?: number;
  /** extra text on the progress line */
  status?: () => string;
}

/** Runs one load (closed or open loop) with a progress line. */
async function drive(d: Drive): Promise<LoadRun | OpenLoopRun> {
  const t0 = performance.now();
  const run =
    d.mode === 'closed'
      ? closedLoop({
          port: d.port,
          path: d.path,
          connections: d.connections!,
          seconds: S,
          headers: d.headers,
          source: d.source,
        })
      : openLoop({
          port: d.port,
          path: d.path,
          rate: d.rate!,
          seconds: S,
          sockets: settings.openSockets,
          headers: d.headers,
          source: d.source,
        });
  const ticker = setInterval(() => {
    const elapsed = Math.min(S, Math.floor((performance.now() - t0) / 1000));
    const phase = elapsed >= S && d.mode === 'open' ? 'waiting for answers' : `${elapsed}/${S} s`;
    progress.update(`  ${d.name}: ${phase}, ${fmt(d.source.answered)} requests${d.status ? `, ${d.status()}` : ''}`);
  }, 1000);
  try {
    return await run.done;
  } finally {
    clearInterval(ticker);
  }
}

function loadLabel(d: { mode: 'closed' | 'open'; connections?: number; rate?: number }): string {
  return d.mode === 'closed' ? `${d.connections} connections` : `${fmt(d.rate)} req/s offered`;
}

// ---------------------------------------------------------------- baselines

async function baselineServer(name: string, script: string, tenant: string, report: Report): Promise<void> {
  const port = await freePort();
  const server = new Child(name, join(__dirname, 'harness', script), {
    ...process.env,
    NODE_ENV: 'production',
    PORT: String(port),
    LIMIT_KB: String(settings.maxPayloadKb),
  });
  try {
    await server.waitFor(/listening/);
    await warmUp(port, {}, tenant);
    for (const b of [
      { batch: null, path: EVENTS_PATH, connections: settings.connections, label: 'single events' },
      { batch: 100, path: BATCH_PATH, connections: settings.batchConnections, label: 'batches of 100' },
    ]) {
      const source = new PlainTraffic(tenant, b.batch);
      const watched: Watched = { server: server.pid };
      const a = cpuSnapshot(watched);
      const load = await drive({
        name: `${name}, ${b.label}`,
        mode: 'closed',
        port,
        path: b.path,
        headers: {},
        source,
        connections: b.connections,
      });
      const cpu = cpuShares(a, cpuSnapshot(watched));
      if (server.crashed) throw new Error(`${server.crashed}:\n${server.output()}`);
      const row: Row = {
        key: `${name === 'bare Express 5' ? 'express' : 'http'}_${b.batch === null ? 'single' : `batch${b.batch}`}`,
        name: `${name}: ${b.label}`,
        kind: 'baseline',
        mode: 'closed',
        load: loadLabel({ mode: 'closed', connections: b.connections }),
        batch: b.batch,
        seconds: round(load.seconds, 2),
        requests: load.answered,
        req_per_s: load.answered / load.seconds,
        latency_ms: latencySummary(load.latencies),
        statuses: statusRecord(source.statuses),
        errors: load.errors,
        timeouts: load.timeouts,
        cpu,
      };
      report.rows.push(row);
      progress.log(
        `  ${row.name}: ${fmt(row.req_per_s)} req/s, p95 ${fmt(row.latency_ms.p95, 1)} ms, server CPU ${pct(cpu.server)}, generator ${pct(cpu.generator)}`,
      );
    }
  } finally {
    await server.stop();
  }
}

/** A second of load before measuring, so that no figure includes JIT warm-up. */
async function warmUp(port: number, headers: Record<string, string>, tenant: string): Promise<void> {
  const source = new PlainTraffic(tenant, 10);
  await closedLoop({ port, path: BATCH_PATH, connections: 4, seconds: 1, headers, source }).done;
  const single = new PlainTraffic(tenant, null);
  await closedLoop({ port, path: EVENTS_PATH, connections: 8, seconds: 1, headers, source: single }).done;
}

async function storageCeiling(report: Report): Promise<void> {
  progress.log(`  raw COPY: building ${fmt(settings.copyRows)} rows...`);
  const url = await freshDatabase(settings.copyDatabase);
  try {
    const copy = await copyCeiling(url, settings.copyRows, settings.copyChunk, settings.copyStreams);
    report.copy = copy;
    if (copy.counted !== copy.rows) throw new Error(`COPY baseline: ${copy.rows} rows sent, ${copy.counted} counted`);
    progress.log(
      `  raw COPY: ${fmt(copy.rows_per_s)} rows/s (${fmt(copy.counted)} rows in ${fmt(copy.seconds, 1)} s, ${copy.streams} streams; rows built in ${fmt(copy.build_seconds, 1)} s before)`,
    );
    progress.update('  work floor: ledger rows...');
    const ledger = await ledgerCost(url, settings.copyRows, 500, settings.copyStreams);
    progress.update('  work floor: parsing and validating events...');
    const parseValidate = parseValidateCost(50_000, 500);
    report.floor = {
      parse_validate_us: parseValidate,
      ledger_row_us: ledger.row_us,
      ledger_rows_per_s: ledger.rows_per_s,
    };
    progress.log(
      `  work floor: JSON.parse + validation ${fmt(parseValidate, 1)} µs per event (one core); ledger rows ${fmt(ledger.rows_per_s)}/s, ` +
        `Postgres ${fmt(ledger.row_us, 1)} µs per row`,
    );
  } finally {
    await dropDatabase(settings.copyDatabase);
  }
}

// ---------------------------------------------------------------- service scenarios

interface ScenarioDef {
  key: string;
  name: string;
  mode: 'closed' | 'open';
  path: string;
  batch: number | null;
  connections?: number;
  rate?: number;
  plant?: { duplicates: number; invalid: number };
}

async function scenario(svc: Service, def: ScenarioDef, report: Report): Promise<Row> {
  await settle(svc, def.name);
  const traffic = new ScenarioTraffic(svc.tenant, def.batch, def.plant);
  const sampler = new BacklogSampler(svc.queue).start();
  try {
    return await measure(svc, def, report, traffic, sampler);
  } finally {
    sampler.stop();
  }
}

/**
 * Before a scenario: the rollup fold of the earlier ones finished, then VACUUM ANALYZE and a
 * CHECKPOINT, so that no scenario pays for the maintenance the earlier ones left behind (autovacuum
 * of the rows the batch scenarios wrote, dirty pages written out).
 */
async function settle(svc: Service, name: string): Promise<void> {
  const t0 = performance.now();
  for (;;) {
    const { n } = (await svc.db.query<{ n: number }>('SELECT count(*)::int AS n FROM analytics_rollup_pending'))
      .rows[0];
    if (n === 0) break;
    const waited = (performance.now() - t0) / 1000;
    progress.update(`  ${name}: settling: ${fmt(n)} stored events waiting for the rollup fold, ${fmt(waited, 1)} s`);
    if (waited > settings.drainTimeout)
      throw new Error(
        `${name}: the rollup fold did not finish within ${settings.drainTimeout} s (${n} events pending)`,
      );
    await sleep(200);
  }
  progress.update(`  ${name}: settling: VACUUM ANALYZE and CHECKPOINT`);
  await svc.db.query('VACUUM ANALYZE');
  await svc.db.query('CHECKPOINT');
}

/**
 * Waits until the backlog is zero twice in a row (requests in flight when the load stopped may
 * still be on their way into the queue); returns when it first read zero.
 */
async function drain(svc: Service, name: string, loadEnd: number): Promise<number> {
  let drainedAt = 0;
  for (let zeros = 0; ;) {
    const n = await backlogNow(svc.queue);
    const waited = (performance.now() - loadEnd) / 1000;
    progress.update(`  ${name}: load done, draining: backlog ${fmt(n)} jobs, ${fmt(waited, 1)} s`);
    if (n === 0 && zeros === 0) drainedAt = performance.now();
    zeros = n === 0 ? zeros + 1 : 0;
    if (zeros === 2) return drainedAt;
    if (waited > settings.drainTimeout)
      throw new Error(`${name}: the queue did not drain within ${settings.drainTimeout} s (backlog ${n})`);
    const c = svc.crashed();
    if (c) throw new Error(`${c} while draining ${name}; last lines of the worker:\n${svc.worker.output(10)}`);
    await sleep(100);
  }
}

async function measure(
  svc: Service,
  def: ScenarioDef,
  report: Report,
  traffic: ScenarioTraffic,
  sampler: BacklogSampler,
): Promise<Row> {
  const watched: Watched = { api: svc.api.pid, worker: svc.worker.pid };
  const t0 = performance.now();
  const cpu0 = cpuSnapshot(watched);
  const load = await drive({
    name: def.name,
    mode: def.mode,
    port: svc.port,
    path: def.path,
    headers: svc.headers,
    source: traffic,
    connections: def.connections,
    rate: def.rate,
    status: () => `backlog ${fmt(sampler.latest)} jobs`,
  });
  const cpu1 = cpuSnapshot(watched);
  const loadEnd = performance.now();
  const crash = svc.crashed();
  if (crash)
    throw new Error(
      `${crash} during ${def.name}; last lines of the api:\n${svc.api.output(10)}\nof the worker:\n${svc.worker.output(10)}`,
    );
  const countSql = 'SELECT count(*)::int AS n FROM analytics_events_raw WHERE tenant_id = $1 AND site_id = $2';
  const persistedAtLoadEnd = (await svc.db.query<{ n: number }>(countSql, [svc.tenant, traffic.site])).rows[0].n;

  const drained = await drain(svc, def.name, loadEnd);
  const cpu2 = cpuSnapshot(watched);
  await sleep(600); // one more backlog sample after the drain
  sampler.stop();
  const verification = await traffic.verify(svc.db);
  const open = 'offered_rate' in load ? load : undefined;
  const acceptedEvents = traffic.counts.accepted;
  // Open loop: the load lasts until the last scheduled request is answered.
  const loadSeconds = (loadEnd - t0) / 1000;
  const row: Row = {
    key: def.key,
    name: def.name,
    kind: 'service',
    mode: def.mode,
    load: loadLabel(def),
    batch: def.batch,
    seconds: round(loadSeconds, 2),
    requests: load.answered,
    req_per_s: load.answered / loadSeconds,
    latency_ms: latencySummary(load.latencies),
    statuses: statusRecord(traffic.statuses),
    errors: load.errors,
    timeouts: load.timeouts,
    cpu: cpuShares(cpu0, cpu1),
    cpu_drain: drained - loadEnd > 200 ? cpuShares(cpu1, cpu2) : undefined,
    events_sent: traffic.counts.events_sent,
    events_accepted: acceptedEvents,
    events_accepted_per_s: acceptedEvents / loadSeconds,
    events_persisted: verification.rows,
    events_persisted_per_s: verification.rows / ((drained - t0) / 1000),
    persisted_at_load_end: persistedAtLoadEnd,
    verdicts: { ...traffic.counts },
    problems: traffic.problems,
    verification,
    backlog: sampler.summary(loadSeconds),
    drain_seconds: round((drained - loadEnd) / 1000, 2),
    open_loop: open
      ? {
          offered_rate: open.offered_rate,
          scheduled: open.scheduled,
          send_lag_p99_ms: open.send_lag_p99_ms,
          tail_seconds: round(open.tail_seconds, 2),
        }
      : undefined,
  };
  report.rows.push(row);

  const p = traffic.problems;
  if (!verification.ok) {
    report.failures.push(
      `${def.name}: ${verification.lost} accepted event(s) missing, ${verification.stored_twice} stored twice, ` +
        `${verification.stored_not_accepted} stored although refused (rows ${verification.rows}, distinct event ids ${verification.distinct_event_ids}, accepted ${traffic.acceptedCount})`,
    );
  }
  if (p.body_counts || p.verdicts || p.accepted_twice || p.unreadable_bodies) {
    report.failures.push(
      `${def.name}: ${p.body_counts} 202 bodies whose counts do not add up, ${p.verdicts} unexpected verdicts, ` +
        `${p.accepted_twice} events accepted twice, ${p.unreadable_bodies} unreadable bodies; e.g. ${p.examples.slice(0, 3).join(' | ')}`,
    );
  }
  const b = row.backlog!;
  progress.log(
    `  ${def.name}: ${fmt(row.req_per_s)} req/s, ${fmt(row.events_accepted_per_s)} events/s accepted, ` +
      `${fmt(row.events_persisted_per_s)} persisted/s, p50/p95/p99 ${fmt(row.latency_ms.p50, 1)}/${fmt(row.latency_ms.p95, 1)}/${fmt(row.latency_ms.p99, 1)} ms; ` +
      `backlog min/max/last ${b.min}/${b.max}/${b.last} jobs (${b.trend}), drained ${fmt(row.drain_seconds, 1)} s after the load; ` +
      `${fmt(acceptedEvents)} accepted, ${fmt(verification.rows)} stored, ${verification.ok ? 'each once' : 'MISMATCH'}` +
      (verification.unanswered_stored
        ? ` (${verification.unanswered_stored} of them from requests in flight at the stop)`
        : ''),
  );
  return row;
}

// ---------------------------------------------------------------- graceful degradation

/**
 * The worker is stopped while batches keep arriving at a fixed rate: the backlog climbs to
 * ANALYTICS_MAX_QUEUE_BACKLOG, where ingestion answers 503 with Retry-After instead of letting
 * Redis grow; then a new worker starts, the backlog drains and ingestion accepts again by itself.
 */
async function degradation(svc: Service, report: Report, rate: number): Promise<void> {
  await settle(svc, 'degradation');
  const traffic = new ScenarioTraffic(svc.tenant, 100);
  // Long enough with the worker stopped to pass the threshold by five seconds, and to drain after.
  const phase = Math.max(S, Math.ceil(settings.maxBacklog / rate) + 5);
  const redis = (await svc.queue.client) as unknown as { info(section: string): Promise<string> };
  const memoryMb = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0) / 1e6;
  let second = { ok: 0, refused: 0, other: 0 };
  const retryAfter = new Set<string>();
  const source = {
    get answered() {
      return traffic.answered;
    },
    next: () => traffic.next(),
    answer: (token: number, status: number, text: string) => {
      if (status === 202) second.ok++;
      else if (status === 503) second.refused++;
      else second.other++;
      traffic.answer(token, status, text);
    },
    abandon: (token: number) => traffic.abandon(token),
  };
  progress.log(
    `Graceful degradation: batches of 100 at ${fmt(rate)} req/s, ${phase} s with the worker stopped, ${phase} s after restarting it:`,
  );
  await svc.stopWorker();
  const mem0 = await memoryMb();
  const timeline: Degradation['timeline'] = [];
  let worker: 'stopped' | 'starting' | 'running' = 'stopped';
  let backAfter = NaN;
  const t0 = performance.now();
  const run = openLoop({
    port: svc.port,
    path: BATCH_PATH,
    rate,
    seconds: 2 * phase,
    sockets: settings.openSockets,
    headers: svc.headers,
    source,
    onHead: (head) => {
      const m = /\r\nretry-after:\s*(\S+)/i.exec(head);
      if (m) retryAfter.add(m[1]);
    },
  });
  let loadDone = false;
  void run.done.then(() => {
    loadDone = true;
  });
  let restart: Promise<void> | null = null;
  for (let i = 1; !loadDone || i <= 2 * phase; i++) {
    await sleep(Math.max(0, t0 + i * 1000 - performance.now()));
    const [backlog, mb] = await Promise.all([backlogNow(svc.queue), memoryMb()]);
    timeline.push({
      second: i,
      worker,
      accepted_202: second.ok,
      refused_503: second.refused,
      other: second.other,
      backlog_jobs: backlog,
      redis_mb: mb,
    });
    progress.update(
      `  second ${i}: worker ${worker}, ${second.ok} accepted, ${second.refused} refused (503), backlog ${fmt(backlog)} jobs, Redis ${fmt(mb, 1)} MB`,
    );
    second = { ok: 0, refused: 0, other: 0 };
    if (i === phase) {
      worker = 'starting';
      restart = svc.startWorker().then(() => {
        worker = 'running';
        backAfter = (performance.now() - t0) / 1000 - phase;
      });
    }
    if (i > 4 * phase) break; // answers overdue: the load's own timeout ends it
  }
  const load = await run.done;
  await restart;
  const loadEnd = performance.now();
  const drained = ((await drain(svc, 'degradation', loadEnd)) - loadEnd) / 1000;
  const verification = await traffic.verify(svc.db);
  const first503 = timeline.find((t) => t.refused_503 > 0)?.second ?? null;
  const reopened = timeline.find((t) => t.second > phase && t.accepted_202 > 0 && t.refused_503 === 0)?.second ?? null;
  report.degradation = {
    threshold_jobs: settings.maxBacklog,
    offered_rate: rate,
    phase_seconds: phase,
    worker_back_after_s: round(backAfter, 1),
    timeline,
    retry_after: [...retryAfter],
    backlog_max: Math.max(...timeline.map((t) => t.backlog_jobs)),
    redis_mb_before: round(mem0, 1),
    redis_mb_max: round(Math.max(...timeline.map((t) => t.redis_mb)), 1),
    first_503_s: first503,
    reopened_s: reopened,
    drained_after_load_s: round(drained, 1),
    events_accepted: traffic.counts.accepted,
    verification,
  };
  if (!verification.ok) {
    report.failures.push(
      `degradation: ${verification.lost} accepted event(s) missing, ${verification.stored_twice} stored twice, ${verification.stored_not_accepted} stored although refused`,
    );
  }
  if (load.errors || load.timeouts)
    report.failures.push(`degradation: ${load.errors} connection errors, ${load.timeouts} timeouts`);
  progress.log(
    `  first 503 at ${first503 ?? '–'} s, backlog at most ${fmt(report.degradation.backlog_max)} jobs, Redis at most ${fmt(report.degradation.redis_mb_max, 1)} MB, ` +
      `worker consuming ${fmt(backAfter, 1)} s after its restart, accepting again at ${reopened ?? '–'} s; ${fmt(traffic.counts.accepted)} accepted, ` +
      `${fmt(verification.rows)} stored, ${verification.ok ? 'each once, none of the refused' : 'MISMATCH'}`,
  );
}

// ---------------------------------------------------------------- targets

function targets(report: Report): Target[] {
  const row = (key: string) => report.rows.find((r) => r.key === key);
  const out: Target[] = [];
  const ratio = (a?: number, b?: number) => (a !== undefined && b ? a / b : NaN);
  const single = row('single'),
    expressSingle = row('express_single'),
    httpSingle = row('http_single');
  const r1 = ratio(single?.req_per_s, expressSingle?.req_per_s);
  out.push({
    figure: 'single events, req/s (closed loop)',
    value: fmt(single?.req_per_s),
    baseline: `bare Express ${fmt(expressSingle?.req_per_s)}`,
    ratio: pct(r1),
    target: '≥ 50 % of bare Express',
    pass: Number.isFinite(r1) ? r1 >= 0.5 : false,
  });
  out.push({
    figure: 'single events, req/s (closed loop)',
    value: fmt(single?.req_per_s),
    baseline: `bare node:http ${fmt(httpSingle?.req_per_s)}`,
    ratio: pct(ratio(single?.req_per_s, httpSingle?.req_per_s)),
    target: '',
    pass: null,
  });
  const open1 = row('open_single');
  if (open1) {
    out.push({
      figure: `single events, p95 at ${fmt(open1.open_loop!.offered_rate)} req/s offered (open loop)`,
      value: `${fmt(open1.latency_ms.p95, 1)} ms`,
      baseline: `${settings.openRate ? 'LOAD_RATE' : 'half of bare Express'}`,
      ratio: '',
      target: '≤ 15 ms',
      pass: open1.latency_ms.p95 <= 15,
    });
    out.push({
      figure: 'single events, answered ÷ offered (open loop)',
      value: `${fmt(open1.req_per_s)} req/s`,
      baseline: `${fmt(open1.open_loop!.offered_rate)} offered`,
      ratio: pct(open1.req_per_s / open1.open_loop!.offered_rate),
      target: '',
      pass: null,
    });
  }
  const openB = row('open_batch100');
  if (openB) {
    out.push({
      figure: `batches of 100, p95 at ${fmt(openB.open_loop!.offered_rate)} req/s offered (open loop)`,
      value: `${fmt(openB.latency_ms.p95, 1)} ms`,
      baseline: settings.openBatchRate ? 'LOAD_BATCH_RATE' : '40 % of the closed-loop rate sustained',
      ratio: '',
      target: '≤ 30 ms',
      pass: openB.latency_ms.p95 <= 30,
    });
  }
  const b100 = row('batch100'),
    express100 = row('express_batch100');
  out.push({
    figure: 'batches of 100, req/s (closed loop)',
    value: fmt(b100?.req_per_s),
    baseline: `bare Express ${fmt(express100?.req_per_s)}`,
    ratio: pct(ratio(b100?.req_per_s, express100?.req_per_s)),
    target: '',
    pass: null,
  });
  const copy = report.copy?.rows_per_s;
  for (const key of ['batch100', 'batch500', 'mix']) {
    const r = row(key);
    if (!r) continue;
    const q = ratio(r.events_persisted_per_s, copy);
    const flat = r.backlog?.trend !== 'growing';
    out.push({
      figure: `${r.name}, events persisted/s (backlog ${r.backlog?.trend})`,
      value: fmt(r.events_persisted_per_s),
      baseline: `COPY ${fmt(copy)} rows/s`,
      ratio: pct(q),
      target: key === 'mix' ? '' : '≥ 40 % of COPY, backlog flat',
      pass: key === 'mix' ? null : Number.isFinite(q) && q >= 0.4 && flat,
    });
  }
  const floor = workFloor(report);
  if (floor) {
    out.push({
      figure: `least CPU per stored event: HTTP bytes ${fmt(floor.http, 1)} + JSON.parse and validation ${fmt(floor.parseValidate, 1)} + raw row by COPY ${fmt(floor.copy, 1)} + ledger row ${fmt(floor.ledger, 1)} µs`,
      value: `${fmt(floor.total, 1)} µs: at most ${fmt(floor.maxPerSecond)} events/s on ${floor.cores} cores`,
      baseline: `COPY ${fmt(copy)} rows/s`,
      ratio: pct(ratio(floor.maxPerSecond, copy)),
      target: '',
      pass: null,
    });
  }
  return out;
}

/**
 * The work no pipeline can skip for a stored event, from this run's measurements: receiving its
 * bytes (bare node:http, batches of 100: server and generator), parsing and validating it, its raw
 * row (Postgres CPU per row of the COPY baseline) and its ledger row. Whatever the service adds
 * (sanitizer, dedupe, queue, worker, rollups) comes on top; all of it shares the machine's cores.
 */
function workFloor(report: Report): {
  http: number;
  parseValidate: number;
  copy: number;
  ledger: number;
  total: number;
  cores: number;
  maxPerSecond: number;
} | null {
  const http = report.rows.find((r) => r.key === 'http_batch100');
  const c = report.copy;
  const f = report.floor;
  if (!http || !c || !f) return null;
  const cores = c.cpu.cores ?? 2;
  const parts = {
    http: (ownCpu(http.cpu) * 1e6) / (http.req_per_s * 100),
    parseValidate: f.parse_validate_us,
    copy: (c.cpu.postgres * 1e6) / c.rows_per_s,
    ledger: f.ledger_row_us,
  };
  const total = parts.http + parts.parseValidate + parts.copy + parts.ledger;
  return { ...parts, total, cores, maxPerSecond: (cores * 1e6) / total };
}

// ---------------------------------------------------------------- main

async function versions(): Promise<{ postgres: string; redis: string }> {
  const c = new Client({ connectionString: settings.adminUrl });
  await c.connect();
  const postgres = (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0].v.split(
    ' ',
  )[0];
  await c.end();
  const r = new Redis(settings.redisUrl, { lazyConnect: true });
  await r.connect();
  const redis = /redis_version:(\S+)/.exec(await r.info('server'))?.[1] ?? '?';
  r.disconnect();
  return { postgres, redis };
}

async function cleanup(svc: Service | null): Promise<void> {
  progress.end();
  await svc?.stop().catch((e: unknown) => console.error(`stopping the service: ${(e as Error).message}`));
  await stopAll().catch(() => undefined);
  await dropRedisKeys(settings.redisPrefix).catch((e: unknown) =>
    console.error(`Redis keys left under ${settings.redisPrefix}: ${(e as Error).message}`),
  );
  for (const db of [settings.database, settings.copyDatabase]) {
    await dropDatabase(db).catch((e: unknown) => console.error(`database ${db} left: ${(e as Error).message}`));
  }
}

function writeResults(report: Report): string {
  const dir = join(process.cwd(), 'results');
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `load-${report.started_at.replace(/[:.]/g, '-')}`);
  writeFileSync(`${base}.json`, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(`${base}.md`, markdown(report));
  return base;
}

/**
 * LOAD_ONLY=telemetry: the cost of self-monitoring, in one run. The service is started in three
 * configurations, in turn, LOAD_ROUNDS times (interleaved, so that drift of the machine hits all
 * alike): metrics and request logs off (ANALYTICS_METRICS_ENABLED=false, ANALYTICS_REQUEST_LOGS=false),
 * on (the defaults), and on with tracing (OTLP/HTTP to a sink in this process, every span sampled).
 * Each runs single events and batches of 100 in closed loop.
 */
async function telemetryOverhead(report: Report): Promise<void> {
  const spans = { requests: 0, bytes: 0 };
  const sink = createServer((req, res) => {
    req.on('data', (d: Buffer) => (spans.bytes += d.length));
    req.on('end', () => {
      spans.requests++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const sinkPort = (sink.address() as { port: number }).port;
  const configs: { key: string; label: string; env: NodeJS.ProcessEnv }[] = [
    {
      key: 'off',
      label: 'metrics and logs off',
      env: { ANALYTICS_METRICS_ENABLED: 'false', ANALYTICS_REQUEST_LOGS: 'false' },
    },
    { key: 'on', label: 'metrics and request logs on', env: {} },
    {
      key: 'traced',
      label: 'metrics, logs and tracing on',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sinkPort}`, OTEL_TRACES_SAMPLER: 'always_on' },
    },
  ];
  const rounds = Math.round(Number(process.env.LOAD_ROUNDS ?? 2));
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const c of configs) {
        progress.log(`Round ${round} of ${rounds}: ${c.label}`);
        const svc = new Service(c.env);
        try {
          await svc.start();
          await warmUp(svc.port, svc.headers, svc.tenant);
          while ((await backlogNow(svc.queue)) > 0) await sleep(100);
          for (const def of [
            { key: 'single', name: 'single events', path: EVENTS_PATH, batch: null, connections: settings.connections },
            {
              key: 'batch100',
              name: 'batches of 100',
              path: BATCH_PATH,
              batch: 100,
              connections: settings.batchConnections,
            },
          ]) {
            const row = await scenario(
              svc,
              { ...def, mode: 'closed', name: `${def.name} (${c.label}, round ${round})` },
              report,
            );
            row.key = `telemetry_${c.key}_${def.key}_${round}`;
          }
        } finally {
          await svc.stop();
          await dropRedisKeys(settings.redisPrefix).catch(() => undefined);
        }
      }
    }
  } finally {
    await new Promise((r) => sink.close(r));
  }
  const table = telemetryTable(report, configs, rounds);
  progress.log(`\n${table}\nOTLP sink: ${fmt(spans.requests)} export requests, ${fmt(spans.bytes)} bytes`);
  report.notes = [...(report.notes ?? []), table];
}

/**
 * CPU the service's own processes spent per accepted event: the api during the load, and the worker
 * during the load and its drain. Where the request telemetry lives, and what decides throughput on
 * a machine whose cores are all busy; far less sensitive than requests/s to other work on the
 * machine, which slows both configurations' wall clock alike but not their CPU per event.
 */
function cpuPerEvent(r: Row): { api: number; worker: number } {
  const events = r.events_accepted ?? 0;
  if (!events) return { api: NaN, worker: NaN };
  const api = (r.cpu.api ?? NaN) * r.seconds;
  const worker = (r.cpu.worker ?? NaN) * r.seconds + (r.cpu_drain?.worker ?? 0) * (r.drain_seconds ?? 0);
  return { api: (api * 1e6) / events, worker: (worker * 1e6) / events };
}

/** Median over the rounds of each configuration and scenario, with the change against "off". */
function telemetryTable(report: Report, configs: { key: string; label: string }[], rounds: number): string {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
  const change = (x: number, base: number) => `${x >= base ? '+' : '−'}${Math.abs((x / base - 1) * 100).toFixed(1)} %`;
  const lines = [
    `| scenario | configuration | requests/s (median of ${rounds}) | events accepted/s | p50 ms | p95 ms | change of requests/s | api CPU µs/event | api + worker CPU µs/event | change of CPU/event |`,
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const scenarioKey of ['single', 'batch100']) {
    const rowsOf = (c: string) => report.rows.filter((r) => r.key.startsWith(`telemetry_${c}_${scenarioKey}_`));
    const base = median(rowsOf('off').map((r) => r.req_per_s));
    const cpuOf = (rows: Row[]) => {
      const per = rows.map(cpuPerEvent);
      return { api: median(per.map((p) => p.api)), both: median(per.map((p) => p.api + p.worker)) };
    };
    const baseCpu = cpuOf(rowsOf('off'));
    for (const c of configs) {
      const rows = rowsOf(c.key);
      if (!rows.length) continue;
      const rps = median(rows.map((r) => r.req_per_s));
      const cpu = cpuOf(rows);
      lines.push(
        `| ${scenarioKey === 'single' ? 'single events' : 'batches of 100'} | ${c.label} | ${fmt(rps)} | ${fmt(median(rows.map((r) => r.events_accepted_per_s ?? 0)))} | ${fmt(median(rows.map((r) => r.latency_ms.p50)), 1)} | ${fmt(median(rows.map((r) => r.latency_ms.p95)), 1)} | ${c.key === 'off' ? '' : change(rps, base)} | ${fmt(cpu.api, 1)} | ${fmt(cpu.both, 1)} | ${c.key === 'off' ? '' : change(cpu.both, baseCpu.both)} |`,
      );
    }
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  setOwnDatabases([settings.database, settings.copyDatabase]);
  const v = await versions();
  const report: Report = {
    started_at: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpu_model: os.cpus()[0]?.model.trim(),
      memory_gib: Math.round(os.totalmem() / 2 ** 30),
      os: `${os.type()} ${os.release()}`,
      node: process.versions.node,
      ...v,
    },
    settings: {
      seconds: S,
      connections: settings.connections,
      batch_connections: settings.batchConnections,
      open_rate: settings.openRate ?? 'half of bare Express',
      open_batch_rate:
        settings.openBatchRate ?? '40 % of the closed-loop batches of 100 sustained (persisted events/s ÷ 100)',
      open_sockets: settings.openSockets,
      copy_rows: settings.copyRows,
      copy_chunk: settings.copyChunk,
      copy_streams: settings.copyStreams,
    },
    rows: [],
    targets: [],
    failures: [],
  };
  let svc: Service | null = null;
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    progress.log(`${sig}: stopping and cleaning up...`);
    void cleanup(svc).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  progress.log(
    `Load harness: ${S} s per scenario, ${settings.connections} connections (single events), ${settings.batchConnections} (batches); ` +
      `${report.machine.cpus} cores, Node ${report.machine.node}, PostgreSQL ${v.postgres}, Redis ${v.redis}`,
  );
  if (process.env.LOAD_ONLY === 'telemetry') {
    try {
      await telemetryOverhead(report);
    } catch (err) {
      report.failures.push(`crash: ${(err as Error).stack ?? String(err)}`);
    } finally {
      await cleanup(null);
    }
    report.finished_at = new Date().toISOString();
    const base = writeResults(report);
    console.log(`Results: ${base}.json, ${base}.md`);
    if (report.failures.length) console.error(`\nFAILED:\n${report.failures.map((f) => `  - ${f}`).join('\n')}`);
    process.exit(report.failures.length ? 1 : 0);
  }
  try {
    progress.log('Baselines:');
    // Any tenant id: the baselines only parse the bodies.
    const anyTenant = '0b9d6f1e-5c1a-4a53-9f43-2c1e8a7d9b10';
    await baselineServer('bare node:http', 'bare-http.js', anyTenant, report);
    await baselineServer('bare Express 5', 'bare-express.js', anyTenant, report);
    await storageCeiling(report);

    progress.log('Service (api and worker processes, fresh database):');
    svc = new Service();
    await svc.start();
    await warmUp(svc.port, svc.headers, svc.tenant);
    while ((await backlogNow(svc.queue)) > 0) await sleep(100);

    const expressSingle = report.rows.find((r) => r.key === 'express_single')?.req_per_s ?? 1000;
    const openRate = settings.openRate ?? Math.max(1, Math.round(expressSingle / 2));
    const defs: ScenarioDef[] = [
      {
        key: 'single',
        name: 'single events',
        mode: 'closed',
        path: EVENTS_PATH,
        batch: null,
        connections: settings.connections,
      },
      {
        key: 'batch100',
        name: 'batches of 100',
        mode: 'closed',
        path: BATCH_PATH,
        batch: 100,
        connections: settings.batchConnections,
      },
      {
        key: 'batch500',
        name: 'batches of 500',
        mode: 'closed',
        path: BATCH_PATH,
        batch: 500,
        connections: settings.batchConnections,
      },
      {
        key: 'mix',
        name: 'batches of 100, 5 % duplicates, 1 % invalid',
        mode: 'closed',
        path: BATCH_PATH,
        batch: 100,
        connections: settings.batchConnections,
        plant: { duplicates: 0.05, invalid: 0.01 },
      },
      {
        key: 'open_single',
        name: 'single events, open loop',
        mode: 'open',
        path: EVENTS_PATH,
        batch: null,
        rate: openRate,
      },
    ];
    for (const def of defs) await scenario(svc, def, report);
    // A moderate load for batches: 40 % of what the service sustained in closed loop, in this run:
    // its persisted events/s in requests of 100, not its answers/s, which count fast 503s of the
    // backlog gate when the api outruns the worker.
    const b100 = report.rows.find((r) => r.key === 'batch100');
    const closedBatch = b100?.events_persisted_per_s ? b100.events_persisted_per_s / 100 : 50;
    const openBatchRate = settings.openBatchRate ?? Math.max(1, Math.round(closedBatch * 0.4));
    await scenario(
      svc,
      {
        key: 'open_batch100',
        name: 'batches of 100, open loop',
        mode: 'open',
        path: BATCH_PATH,
        batch: 100,
        rate: openBatchRate,
      },
      report,
    );
    await degradation(svc, report, openBatchRate);

    const doubled = Number(
      (await svc.db.query('SELECT count(*) - count(DISTINCT (tenant_id, event_id)) AS n FROM analytics_events_raw'))
        .rows[0].n,
    );
    if (doubled !== 0)
      report.failures.push(`${doubled} event(s) stored twice in analytics_events_raw over the whole run`);
  } catch (err) {
    report.failures.push(`crash: ${(err as Error).stack ?? String(err)}`);
  } finally {
    await cleanup(svc);
  }

  report.targets = targets(report);
  report.finished_at = new Date().toISOString();
  const base = writeResults(report);
  // The same report as the .md file; failures also on stderr.
  console.log(`\n${markdown(report)}`);
  console.log(`Results: ${base}.json, ${base}.md`);
  if (report.failures.length) console.error(`\nFAILED:\n${report.failures.map((f) => `  - ${f}`).join('\n')}`);
  // Sockets of an interrupted load may still be open: the run is over, whatever they hold.
  process.exit(report.failures.length ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
