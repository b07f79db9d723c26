/**
 * npm run bench:reports — report latency over a large history, against the raw-events baseline.
 *
 * Loads BENCH_EVENTS (default 10,000,000) realistic events spread over the last BENCH_DAYS (90)
 * days for BENCH_TENANTS (10) tenants into a fresh database: raw rows and ledger entries by COPY,
 * and the rollups computed by the worker's own fold function (`foldEvents`) and written by COPY.
 * Minute rollups are written for the last 14 days only (ANALYTICS_MINUTE_ROLLUP_RETENTION_DAYS),
 * as retention would leave them; the members of distinct-rate metrics, which only later folds into
 * the same buckets read, are not written. Then it starts the api twice (rollups on; rollups off,
 * the baseline that computes every report from raw events) and measures p50/p95 over repeated
 * queries through HTTP. Funnels: today's session funnel over 1 and 30 days, and one keyed on an
 * attribute (gen_ai.conversation.id) with a property filter and a breakdown by an attribute over 30 days.
 *
 *   npm run bench:reports                              # 10 M events, 90 days
 *   BENCH_EVENTS=1000000 npm run bench:reports         # a quicker run
 *   BENCH_REUSE=1 npm run bench:reports                # keep the loaded database, measure again
 *   BENCH_DB=name npm run bench:reports                # a database of another name (default analytics_reports_bench)
 *   npm run bench:reports -- --storage clickhouse      # the same events in ClickHouse too: both backends side by side
 *
 * With `--storage clickhouse` it starts a ClickHouse server of its own (free ports, its own data
 * directory; Debian's clickhouse-server), loads the very same events and rollup cells into it (the
 * tables of ClickHouseEventStore, in blocks of one tenant-day), starts a third api with
 * ANALYTICS_STORAGE=clickhouse and measures every query on it too, checking it answers as Postgres.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { StoredEvent } from '../../src/modules/contracts/stored-event';
import { countMembers, foldEvents, inLockOrder } from '../../src/modules/rollups/rollup-fold';
import { ClickHouse } from '../../src/database/clickhouse';
import { ensureClickHouseSchema } from '../../src/modules/storage/clickhouse-schema';
import { clickHouseEventRow, clickHouseRollupRow } from '../../src/modules/storage/clickhouse-event-store';
import { ClickHouseServers, startClickHouseServers } from '../support/clickhouse-servers';
import { startApiProcess } from '../support/worker-process';
import { RAW_COLUMNS, copyText, rawCopyLine } from './copy-rows';
import { rng } from '../support/hostile';
import { percentile, round } from './harness/stats';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 10_000_000);
const DAYS = Number(process.env.BENCH_DAYS ?? 90);
const TENANTS = Number(process.env.BENCH_TENANTS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40);
const RAW_ROUNDS = Number(process.env.BENCH_RAW_ROUNDS ?? 5);
const REUSE = process.env.BENCH_REUSE === '1';
const ADMIN_URL = process.env.BENCH_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const DB = process.env.BENCH_DB ?? 'analytics_reports_bench';
const DAY = 86_400_000;
const MINUTE_DAYS = 14;
const storageArg = process.argv.indexOf('--storage');
const WITH_CLICKHOUSE = storageArg > 0 && process.argv[storageArg + 1] === 'clickhouse';
if (storageArg > 0 && !['clickhouse', 'postgres'].includes(process.argv[storageArg + 1]))
  throw new Error(`--storage takes postgres or clickhouse, not ${process.argv[storageArg + 1]}`);

const dbUrl = (name: string) => Object.assign(new URL(ADMIN_URL), { pathname: `/${name}` }).toString();
const round1 = (x: number) => round(x, 1);
const fmt = (n: number) => n.toLocaleString('en-US');

async function admin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A progress bar on stderr: one line, rewritten in place on a terminal, every 5 % otherwise. */
function progress(label: string, total: number) {
  const started = Date.now();
  let lastPct = -1;
  return (done: number) => {
    const pct = Math.floor((done / total) * 100);
    if (pct === lastPct) return;
    lastPct = pct;
    const secs = (Date.now() - started) / 1000;
    const rate = done / Math.max(secs, 0.001);
    const eta = done ? (total - done) / rate : 0;
    const bar = '#'.repeat(Math.floor(pct / 4)).padEnd(25, '.');
    const line = `${label} [${bar}] ${pct}% ${fmt(done)}/${fmt(total)} ${fmt(Math.round(rate))}/s, ${Math.round(secs)} s, ~${Math.round(eta)} s left`;
    if (process.stderr.isTTY) process.stderr.write(`\r${line}   ${done >= total ? '\n' : ''}`);
    else if (pct % 5 === 0) process.stderr.write(`${line}\n`);
  };
}

// ---------------------------------------------------------------------------------------------
// The generator: sessions of realistic journeys, in time order, per tenant and day.

const SOURCES_BY_KIND = { voice: 'voice_ws', ai: 'server', kb: 'web', shop: 'web', booking: 'widget' } as const;
type Kind = keyof typeof SOURCES_BY_KIND;
const KINDS: [Kind, number][] = [
  ['voice', 0.3],
  ['ai', 0.25],
  ['kb', 0.15],
  ['shop', 0.2],
  ['booking', 0.1],
];
const TOOLS = ['navigation.goto', 'catalog.search', 'calendar.book', 'crm.lookup', 'kb.retrieve'];
const MODELS = ['gpt-4o-mini', 'claude-3-5-haiku', 'llama-3.1-70b'];

interface Gen {
  name: string;
  at: number;
  attributes: Record<string, unknown>;
}

/** One session's events: a journey of its kind, each step some seconds after the last. */
function journey(r: ReturnType<typeof rng>, kind: Kind, start: number): Gen[] {
  const out: Gen[] = [];
  let at = start;
  const step = (name: string, attributes: Record<string, unknown>, gapMs = 500 + r.int(20_000)) => {
    at += gapMs;
    out.push({ name, at, attributes });
  };
  const lognormal = (median: number, spread: number) => Math.round(median * Math.exp(spread * gauss(r)) * 10) / 10;
  if (kind === 'voice') {
    const session = randomUUID();
    for (let turn = 0, n = 2 + r.int(8); turn < n; turn++) {
      const turnId = `t-${turn}`;
      step('voice.turn_started', { 'voice.session_id': session, 'voice.turn_id': turnId, 'voice.channel': 'phone' });
      for (let i = 0, parts = 1 + r.int(4); i < parts; i++)
        step(
          'voice.asr_partial',
          {
            'voice.turn_id': turnId,
            'voice.asr_latency_ms': lognormal(80, 0.5),
            'voice.asr_partial_index': i,
            'voice.asr_is_final': i === parts - 1,
          },
          150 + r.int(400),
        );
      step(
        'voice.first_response',
        {
          'voice.turn_id': turnId,
          'voice.first_response_ms': lognormal(650, 0.45),
          'gen_ai.request.model': r.pick(MODELS),
        },
        300 + r.int(1500),
      );
      if (r.chance(0.12))
        step(
          'voice.barge_in',
          { 'voice.turn_id': turnId, 'voice.barge_in_ms': lognormal(900, 0.6) },
          200 + r.int(2000),
        );
    }
  } else if (kind === 'ai') {
    const conversation = randomUUID();
    const calls = 1 + r.int(5);
    let ok = true;
    for (let i = 0; i < calls; i++) {
      const call = randomUUID();
      const tool = r.pick(TOOLS);
      const success = r.chance(0.9);
      ok &&= success;
      step('ai.tool_call_started', {
        'gen_ai.tool.name': tool,
        'gen_ai.tool.call.id': call,
        'gen_ai.conversation.id': conversation,
      });
      step(
        'ai.tool_call_completed',
        {
          'gen_ai.tool.name': tool,
          'gen_ai.tool.call.id': call,
          'ai.tool.duration_ms': lognormal(420, 0.7),
          'ai.tool.success': success,
          ...(success ? {} : { 'error.type': r.pick(['timeout', 'tool_error', 'rate_limited']) }),
          ...(tool === 'navigation.goto' ? { 'ai.navigation.optimistic': r.chance(0.6) } : {}),
          'gen_ai.conversation.id': conversation,
        },
        100 + r.int(3000),
      );
    }
    step('ai.tool_chain_completed', {
      'ai.tool_chain.length': calls,
      'ai.tool_chain.success': ok,
      'gen_ai.conversation.id': conversation,
    });
  } else if (kind === 'kb') {
    for (let i = 0, n = 1 + r.int(3); i < n; i++) {
      const search = randomUUID();
      const results = r.int(12);
      step('kb.search', {
        'kb.search_id': search,
        'kb.query': 'how do I change my delivery address',
        'kb.results_count': results,
        'kb.latency_ms': lognormal(45, 0.6),
        'kb.top_score': Math.round(r.next() * 100) / 100,
      });
      if (results > 0 && r.chance(0.55))
        step('kb.hit', {
          'kb.search_id': search,
          'kb.document_id': `doc-${r.int(500)}`,
          'kb.rank': 1 + r.int(Math.min(results, 5)),
          'kb.relevance_score': Math.round(r.next() * 100) / 100,
        });
    }
  } else if (kind === 'shop') {
    const item = `sku-${r.int(2000)}`;
    const price = 5 + r.int(200);
    for (let i = 0, n = 1 + r.int(4); i < n; i++)
      step('commerce.view', {
        'commerce.item_id': i ? `sku-${r.int(2000)}` : item,
        'commerce.price': price,
        'commerce.currency': 'EUR',
      });
    if (r.chance(0.3)) {
      step('commerce.add_to_cart', {
        'commerce.item_id': item,
        'commerce.quantity': 1 + r.int(3),
        'commerce.price': price,
        'commerce.currency': 'EUR',
      });
      if (r.chance(0.45))
        step(
          'commerce.checkout',
          {
            'commerce.order_id': `o-${randomUUID()}`,
            'commerce.value': price * (1 + r.int(3)),
            'commerce.currency': 'EUR',
            'commerce.items_count': 1 + r.int(3),
          },
          20_000 + r.int(600_000),
        );
    }
  } else {
    const hold = randomUUID();
    step('booking.slot_hold', {
      'booking.hold_id': hold,
      'booking.slot_start': new Date(start + 3 * DAY).toISOString(),
      'booking.resource_id': `room-${r.int(30)}`,
    });
    if (r.chance(0.65))
      step(
        'booking.confirmed',
        { 'booking.hold_id': hold, 'booking.booking_id': `b-${randomUUID()}` },
        10_000 + r.int(300_000),
      );
  }
  if (r.chance(0.02))
    step('system.error', {
      'error.type': r.pick(['upstream_timeout', 'asr_disconnect', 'tool_error']),
      'error.message': 'the upstream call failed',
    });
  return out;
}

function gauss(r: ReturnType<typeof rng>): number {
  return Math.sqrt(-2 * Math.log(1 - r.next())) * Math.cos(2 * Math.PI * r.next());
}

/** One tenant's events of one day, in time order, as the worker would store them. */
function tenantDay(
  r: ReturnType<typeof rng>,
  tenant: { id: string; sites: string[]; users: number },
  dayStart: number,
  count: number,
  now: number,
): StoredEvent[] {
  const out: StoredEvent[] = [];
  const end = Math.min(dayStart + DAY, now);
  while (out.length < count) {
    // busier in the (UTC) afternoon than at night
    let start = dayStart + r.int(DAY);
    if (r.chance(0.5)) start = dayStart + 8 * 3_600_000 + Math.floor(r.next() * 12 * 3_600_000);
    const kind = pickWeighted(r, KINDS);
    const session = randomUUID();
    const user = `user-${r.int(tenant.users)}`;
    const site = r.pick(tenant.sites);
    for (const g of journey(r, kind, start)) {
      if (g.at >= end || out.length >= count) break;
      out.push({
        event_id: randomUUID(),
        event_name: g.name,
        occurred_at: new Date(g.at).toISOString(),
        received_at: new Date(g.at + 40 + r.int(400)).toISOString(),
        tenant_id: tenant.id,
        site_id: site,
        session_id: session,
        user_id: user,
        source: SOURCES_BY_KIND[kind],
        attributes: g.attributes,
        context: { locale: 'en-US', device: { user_agent: 'agent/1.0' }, consent: { analytics: true } },
        payload: null,
      });
    }
  }
  return out.sort((a, b) => (a.occurred_at < b.occurred_at ? -1 : 1));
}

function pickWeighted<T>(r: ReturnType<typeof rng>, items: [T, number][]): T {
  let x = r.next();
  for (const [item, w] of items) if ((x -= w) < 0) return item;
  return items[items.length - 1][0];
}

/** A COPY stream fed by an async generator of text lines, with backpressure. */
async function copyInto(db: Client, sql: string, lines: AsyncIterable<string>): Promise<void> {
  await pipeline(Readable.from(lines), db.query(copyFrom(sql)));
}

async function load(
  tenants: { id: string; sites: string[]; users: number }[],
  now: number,
  ch: ClickHouse | null,
): Promise<{ rollupRows: number; seconds: number; clickHouseSeconds: number }> {
  let chMs = 0;
  const started = Date.now();
  const raw = new Client({ connectionString: dbUrl(DB) });
  const ledger = new Client({ connectionString: dbUrl(DB) });
  const rollups = new Client({ connectionString: dbUrl(DB) });
  await Promise.all([raw.connect(), ledger.connect(), rollups.connect()]);
  const firstDay = Math.floor(now / DAY) * DAY - (DAYS - 1) * DAY;
  for (let d = 0; d < DAYS; d++)
    await raw.query('SELECT analytics_ensure_raw_partition($1::date)', [
      new Date(firstDay + d * DAY).toISOString().slice(0, 10),
    ]);

  // Events per day: equal shares, the last (partial) day by the hours that have passed.
  const weights = Array.from({ length: DAYS }, (_, d) => Math.min(1, (now - (firstDay + d * DAY)) / DAY));
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  const r = rng(2026);
  const tick = progress('loading events', EVENTS);
  let written = 0;
  let rollupRows = 0;
  const minuteFrom = now - MINUTE_DAYS * DAY;

  // Producer: per day, every tenant's events; raw and ledger lines to two COPY streams, rollups to a third.
  const rawLines: string[][] = [];
  const ledgerLines: string[][] = [];
  const rollupLines: string[][] = [];
  let producing = true;
  const wake: (() => void)[] = [];
  const notify = () => {
    while (wake.length) wake.shift()!();
  };
  async function* drain(queue: string[][]): AsyncIterable<string> {
    for (;;) {
      const chunk = queue.shift();
      if (chunk) {
        yield chunk.join('');
        notify();
        continue;
      }
      if (!producing) return;
      await new Promise<void>((res) => wake.push(res));
    }
  }
  const consumers = Promise.all([
    copyInto(raw, `COPY analytics_events_raw (${RAW_COLUMNS.join(', ')}) FROM STDIN`, drain(rawLines)),
    copyInto(ledger, `COPY analytics_dedupe_ledger (tenant_id, event_id, occurred_at) FROM STDIN`, drain(ledgerLines)),
    copyInto(
      rollups,
      `COPY analytics_rollups (tenant_id, metric, level, bucket, site_id, source, count, num, sum, min, max, sketch) FROM STDIN`,
      drain(rollupLines),
    ),
  ]);
  try {
    let assigned = 0;
    for (let d = 0; d < DAYS; d++) {
      const dayStart = firstDay + d * DAY;
      const dayTotal = d === DAYS - 1 ? EVENTS - assigned : Math.round((EVENTS * weights[d]) / totalWeight);
      assigned += dayTotal;
      for (let k = 0; k < tenants.length; k++) {
        const count = Math.floor(dayTotal / tenants.length) + (k < dayTotal % tenants.length ? 1 : 0);
        const events = tenantDay(r, tenants[k], dayStart, count, now);
        const rl = events.map(rawCopyLine);
        const ll = events.map((e) => `${e.tenant_id}\t${e.event_id}\t${e.occurred_at}\n`);
        // the worker's fold; every unit is new to these buckets, as the fold's member check would find
        const { deltas, members } = foldEvents(events);
        countMembers(deltas, inLockOrder(members));
        const cells: string[] = [];
        for (const c of deltas.values()) {
          if (c.level === 'm' && Date.parse(c.bucket) < minuteFrom) continue;
          const sketch = c.sketch ? `\\x${c.sketch.encode().toString('hex')}` : null;
          cells.push(
            `${[c.tenant_id, c.metric, c.level, c.bucket, c.site_id, c.source, c.count, c.num, c.sum, c.min, c.max, sketch].map(copyText).join('\t')}\n`,
          );
        }
        rollupRows += cells.length;
        if (ch) {
          // The same events and cells in ClickHouse, one block each, timed apart from Postgres's COPY.
          const t0 = performance.now();
          const received = Date.now() * 1000;
          await ch.insert(
            'events',
            events.map((e) =>
              clickHouseEventRow(
                {
                  ...(e as unknown as Parameters<typeof clickHouseEventRow>[0]),
                  occurred_us: String(Date.parse(e.occurred_at) * 1000),
                  received_us: String(received),
                },
                'bench',
              ),
            ),
          );
          await ch.insert(
            'rollups',
            [...deltas.values()]
              .filter((c) => !(c.level === 'm' && Date.parse(c.bucket) < minuteFrom))
              .map((c) => clickHouseRollupRow(c, 'bench')),
          );
          chMs += performance.now() - t0;
        }
        rawLines.push(rl);
        ledgerLines.push(ll);
        rollupLines.push(cells);
        notify();
        written += events.length;
        tick(written);
        while (rawLines.length > 8 || ledgerLines.length > 8 || rollupLines.length > 8)
          await new Promise<void>((res) => wake.push(res));
      }
    }
  } finally {
    producing = false;
    notify();
  }
  await consumers;
  process.stderr.write(
    `loaded ${fmt(written)} events and ${fmt(rollupRows)} rollup rows in ${Math.round((Date.now() - started) / 1000)} s; VACUUM ANALYZE...\n`,
  );
  await raw.query('VACUUM ANALYZE');
  await Promise.all([raw.end(), ledger.end(), rollups.end()]);
  return {
    rollupRows,
    seconds: Math.round((Date.now() - started - chMs) / 1000),
    clickHouseSeconds: Math.round(chMs / 1000),
  };
}

// ---------------------------------------------------------------------------------------------

type Api = Awaited<ReturnType<typeof startApiProcess>>;

/** An api on the bench database (development: the first start migrates it and seeds a demo tenant). */
function startApi(extra: Record<string, string>): Promise<Api> {
  return startApiProcess(
    {
      ...(process.env as Record<string, string>),
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      DATABASE_URL: dbUrl(DB),
      ANALYTICS_REDIS_PREFIX: `rbench${process.pid}`,
      ANALYTICS_RATE_LIMIT_RPS: '1000000',
      ...extra,
    },
    60_000,
  );
}

async function stop(api: Api | null): Promise<void> {
  if (!api) return;
  api.child.kill('SIGTERM');
  await api.exited;
}

async function measure(
  base: string,
  key: string,
  path: string,
  body: Record<string, unknown>,
  rounds: number,
): Promise<{ p50: number; p95: number; rounds: number; serverP50: number; check: unknown }> {
  const times: number[] = [];
  const server: number[] = [];
  let check: unknown;
  for (let i = 0; i < rounds + 2; i++) {
    const t0 = performance.now();
    const res = await fetch(`${base}/api/v1/analytics/reports/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as {
      meta: { query_ms: number };
      points?: { value: number | null }[];
      steps?: { units: number }[];
      detail?: string;
    };
    const ms = performance.now() - t0;
    if (res.status !== 200) throw new Error(`${path} answered ${res.status}: ${json.detail}`);
    if (i < 2) {
      check = json.points ? json.points.filter((p) => p.value !== null).length : json.steps!.map((s) => s.units);
      continue;
    } // warm-up
    times.push(ms);
    server.push(json.meta.query_ms);
  }
  times.sort((a, b) => a - b);
  server.sort((a, b) => a - b);
  return {
    p50: round1(percentile(times, 50)),
    p95: round1(percentile(times, 95)),
    rounds,
    serverP50: round1(percentile(server, 50)),
    check,
  };
}

async function main(): Promise<void> {
  const exists = await admin(
    async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [DB])).rowCount === 1,
  );
  if (!REUSE || !exists) await admin((c) => c.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`));
  // The first start of a development api creates and migrates the database and seeds a demo tenant.
  let api: Api | null = null;
  let baseline: Api | null = null;
  let onClickHouse: Api | null = null;
  let servers: ClickHouseServers | null = null;
  let ch: ClickHouse | null = null;
  try {
    if (WITH_CLICKHOUSE) {
      if (REUSE) throw new Error('--storage clickhouse loads a fresh ClickHouse: run it without BENCH_REUSE=1');
      servers = await startClickHouseServers(1);
      ch = new ClickHouse(servers.urls, 'analytics_bench', null);
      await ensureClickHouseSchema(ch);
      process.stderr.write(`ClickHouse on ${servers.urls[0]} (${servers.dir})\n`);
    }
    api = await startApi({});
    const db = new Client({ connectionString: dbUrl(DB) });
    await db.connect();
    const demo = (await db.query(`SELECT id FROM analytics_tenants WHERE is_operator ORDER BY created_at LIMIT 1`))
      .rows[0].id as string;
    const key = await issueReportKey(demo);
    let now = Date.now();
    let loaded = Number((await db.query(`SELECT count(*) AS n FROM analytics_events_raw`)).rows[0].n);
    let loadInfo = {
      rollupRows: Number((await db.query(`SELECT count(*) AS n FROM analytics_rollups`)).rows[0].n),
      seconds: 0,
      clickHouseSeconds: 0,
    };
    if (loaded !== EVENTS) {
      if (loaded) throw new Error(`${DB} holds ${loaded} events, not ${EVENTS}: run without BENCH_REUSE=1`);
      const tenants = [{ id: demo, sites: [randomUUID(), randomUUID(), randomUUID()], users: 20_000 }];
      for (let i = 1; i < TENANTS; i++) {
        const id = (await db.query(`INSERT INTO analytics_tenants (name) VALUES ($1) RETURNING id`, [`bench-${i}`]))
          .rows[0].id as string;
        tenants.push({ id, sites: [randomUUID(), randomUUID()], users: 5_000 + i * 1000 });
      }
      await db.query(
        `INSERT INTO analytics_tenants (id, name) VALUES ('00000000-0000-4000-8000-00000000b0b0', $1) ON CONFLICT DO NOTHING`,
        [`loaded-at ${new Date(now).toISOString()}`],
      );
      loadInfo = await load(tenants, now, ch);
      loaded = EVENTS;
    } else {
      const at = (
        await db.query(`SELECT name FROM analytics_tenants WHERE id = '00000000-0000-4000-8000-00000000b0b0'`)
      ).rows[0]?.name as string | undefined;
      if (at) now = Date.parse(at.slice('loaded-at '.length));
      process.stderr.write(`reusing ${DB}: ${fmt(loaded)} events, ${fmt(loadInfo.rollupRows)} rollup rows\n`);
    }
    const tenantEvents = Number(
      (await db.query(`SELECT count(*) AS n FROM analytics_events_raw WHERE tenant_id = $1`, [demo])).rows[0].n,
    );
    const size = (await db.query(`SELECT pg_size_pretty(pg_database_size(current_database())) AS s`)).rows[0]
      .s as string;
    await db.end();

    baseline = await startApi({ ANALYTICS_ENABLE_ROLLUPS: 'false', ANALYTICS_REPORT_TIMEOUT_MS: '600000' });
    if (servers)
      onClickHouse = await startApi({
        ANALYTICS_STORAGE: 'clickhouse',
        CLICKHOUSE_URL: servers.urls[0],
        CLICKHOUSE_DATABASE: 'analytics_bench',
        ANALYTICS_REPORT_TIMEOUT_MS: '600000',
      });
    const end = new Date(Math.floor(now / 3_600_000) * 3_600_000);
    const span = (days: number) => ({
      from: new Date(end.getTime() - days * DAY).toISOString(),
      to: end.toISOString(),
    });
    const ts = (metric: string, days: number) => ({ tenantId: demo, metric, grain: '1h', ...span(days) });
    const funnel = (days: number) => ({
      tenantId: demo,
      steps: ['commerce.view', 'commerce.add_to_cart', 'commerce.checkout'],
      ...span(days),
    });
    const cases: { what: string; target: number; path: string; body: Record<string, unknown>; raw?: boolean }[] = [
      {
        what: 'timeseries voice.first_response_ms.p95, 1h, 1 day',
        target: 30,
        path: 'timeseries',
        body: ts('voice.first_response_ms.p95', 1),
        raw: true,
      },
      {
        what: 'timeseries voice.first_response_ms.p95, 1h, 90 days',
        target: 150,
        path: 'timeseries',
        body: ts('voice.first_response_ms.p95', DAYS),
        raw: true,
      },
      {
        what: 'timeseries ai.tool_calls.success_rate, 1h, 1 day',
        target: 30,
        path: 'timeseries',
        body: ts('ai.tool_calls.success_rate', 1),
        raw: true,
      },
      {
        what: 'timeseries ai.tool_calls.success_rate, 1h, 90 days',
        target: 150,
        path: 'timeseries',
        body: ts('ai.tool_calls.success_rate', DAYS),
        raw: true,
      },
      { what: 'funnel view > add_to_cart > checkout, 1 day', target: 300, path: 'funnel', body: funnel(1) },
      { what: 'funnel view > add_to_cart > checkout, 30 days', target: 2000, path: 'funnel', body: funnel(30) },
      {
        what: 'funnel by gen_ai.conversation.id, tool started > succeeded > chain completed, breakdown by tool, 30 days',
        target: 2000,
        path: 'funnel',
        body: {
          tenantId: demo,
          unit: 'attributes.gen_ai.conversation.id',
          steps: [
            'ai.tool_call_started',
            { event: 'ai.tool_call_completed', where: [{ attribute: 'ai.tool.success', op: 'eq', value: true }] },
            'ai.tool_chain_completed',
          ],
          breakdown: ['attributes.gen_ai.tool.name'],
          ...span(30),
        },
      },
    ];
    const rows: Record<string, string | number>[] = [];
    for (const c of cases) {
      process.stderr.write(`measuring ${c.what}...\n`);
      const m = await measure(api.base, key, c.path, c.body, ROUNDS);
      const row: Record<string, string | number> = {
        query: c.what,
        rounds: m.rounds,
        p50_ms: m.p50,
        p95_ms: m.p95,
        target_p95_ms: c.target,
        met: m.p95 <= c.target ? 'yes' : 'NO',
      };
      if (onClickHouse) {
        const m2 = await measure(onClickHouse.base, key, c.path, c.body, ROUNDS);
        if (JSON.stringify(m2.check) !== JSON.stringify(m.check))
          throw new Error(
            `${c.what}: ClickHouse answered differently (${JSON.stringify(m2.check)} vs ${JSON.stringify(m.check)})`,
          );
        Object.assign(row, {
          ch_p50_ms: m2.p50,
          ch_p95_ms: m2.p95,
          pg_over_ch_p50: `${round(m.p50 / m2.p50, 2)}×`,
        });
      }
      if (c.raw) {
        const b = await measure(baseline.base, key, c.path, c.body, RAW_ROUNDS);
        if (JSON.stringify(b.check) !== JSON.stringify(m.check))
          throw new Error(
            `${c.what}: the raw baseline answered differently (${JSON.stringify(b.check)} vs ${JSON.stringify(m.check)} non-empty points)`,
          );
        Object.assign(row, {
          raw_p50_ms: b.p50,
          raw_p95_ms: b.p95,
          raw_rounds: b.rounds,
          speedup_p50: `${Math.round(b.p50 / m.p50)}×`,
        });
      }
      rows.push(row);
    }
    console.log(
      `\n${fmt(loaded)} events over ${DAYS} days, ${TENANTS} tenants (queried tenant: ${fmt(tenantEvents)} events), ${fmt(loadInfo.rollupRows)} rollup rows, database ${size}${loadInfo.seconds ? `, loaded in ${loadInfo.seconds} s` : ''}.`,
    );
    if (onClickHouse)
      console.log(
        `ClickHouse (one server, 18.16): the same events and rollup cells loaded in ${loadInfo.clickHouseSeconds} s (Postgres COPY: ${loadInfo.seconds} s).`,
      );
    console.log('Latency through HTTP (api on the same machine), after 2 warm-up queries each.\n');
    const cols = Object.keys(rows.find((r) => 'raw_p50_ms' in r)!);
    console.log(`| ${cols.join(' | ')} |\n|${cols.map(() => '---').join('|')}|`);
    for (const r of rows) console.log(`| ${cols.map((c) => r[c] ?? '').join(' | ')} |`);
  } finally {
    await Promise.all([stop(api), stop(baseline), stop(onClickHouse)]);
    await ch?.close();
    servers?.stop();
    if (!process.env.BENCH_KEEP && !REUSE) await admin((c) => c.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`));
  }
}

/** A report key of the tenant, issued by the cli (`npm run cli -- key:create`). */
async function issueReportKey(tenantId: string): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      join(__dirname, '..', '..', 'src', 'cli', 'cli.js'),
      'key:create',
      '--tenant',
      tenantId,
      '--scopes',
      'report',
      '--name',
      'bench',
    ],
    { env: { ...process.env, DATABASE_URL: dbUrl(DB), LOG_LEVEL: 'error' } },
  );
  const key = /API key: (ak_\S+)/.exec(stdout)?.[1];
  if (!key) throw new Error(`the cli issued no key: ${stdout}`);
  return key;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
