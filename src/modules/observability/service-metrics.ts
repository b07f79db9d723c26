import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { JobQueue } from '../contracts/jobs';
import type { Role } from './log';

const SECONDS_FAST = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10];
const SECONDS_SLOW = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/**
 * Every Prometheus metric of the service, in one registry per role (the api's and the worker's
 * never mix, even in one process). Names follow Prometheus conventions: base units, `_total` for
 * counters, `_seconds` for durations. Label values are bounded (route templates, verdicts, job
 * names, built-in event types, schema keywords); a tenant appears only with
 * ANALYTICS_METRICS_TENANT_LABELS=true. See docs/observability.md for the list.
 */
export class ServiceMetrics {
  readonly registry = new Registry();

  // both roles
  readonly dbPool: Gauge<'state'>;
  readonly redisPing: Gauge;
  readonly redisUp: Gauge;

  // api
  readonly httpRequests: Counter<'lane' | 'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'lane' | 'method' | 'route'>;
  readonly ingestEvents: Counter<string>;
  readonly validationFailures: Counter<'event_type' | 'keyword'>;
  readonly dedupeHits: Counter<'stage'>;
  readonly shedRequests: Counter;
  readonly otlpItems: Counter<'signal' | 'outcome'>;
  readonly enqueueFailures: Counter;
  readonly backlog: Gauge;
  readonly backlogLimit: Gauge;
  readonly reportDuration: Histogram<'kind' | 'level'>;
  readonly reportTimeouts: Counter<'kind'>;
  readonly wsConnections: Gauge;
  readonly wsMessages: Counter<'outcome'>;
  readonly wsMessageDuration: Histogram;
  readonly wsCloses: Counter<'code'>;
  readonly wsHandshakes: Counter<'status'>;
  readonly liveStreams: Gauge;
  readonly liveMessages: Counter;
  readonly liveDropped: Counter<'reason'>;

  // worker
  readonly queueJobs: Gauge<'queue' | 'state'>;
  readonly jobs: Counter<'queue' | 'job_name' | 'outcome'>;
  readonly jobDuration: Histogram<'queue' | 'job_name'>;
  readonly jobAttempts: Histogram<'queue' | 'job_name'>;
  readonly eventsPersisted: Counter;
  readonly storageDuplicates: Counter;
  readonly storageRefused: Counter;
  readonly rollupPending: Gauge;
  readonly foldLag: Gauge;
  readonly folded: Counter;
  readonly foldDuration: Histogram;
  readonly partitionsAhead: Gauge;
  readonly dbSize: Gauge;

  constructor(
    readonly role: Role,
    opts: { tenantLabels: boolean },
  ) {
    const r = this.registry;
    r.setDefaultLabels({ role });
    collectDefaultMetrics({ register: r });
    const api = role === 'api' ? [r] : [];
    const worker = role === 'worker' ? [r] : [];

    this.dbPool = new Gauge({
      name: 'analytics_db_pool_connections',
      help: 'Postgres pool connections of this process: total, idle, and requests waiting for one',
      labelNames: ['state'],
      registers: [r],
    });
    this.redisPing = new Gauge({
      name: 'analytics_redis_ping_seconds',
      help: 'Round trip of a Redis PING, measured at each scrape',
      registers: [r],
    });
    this.redisUp = new Gauge({
      name: 'analytics_redis_up',
      help: 'Whether Redis answered PING at the scrape',
      registers: [r],
    });

    this.httpRequests = new Counter({
      name: 'analytics_http_requests_total',
      help: 'HTTP requests answered, by lane (ingest-route: the hand-written ingest route; express: every other route), method, route template and status',
      labelNames: ['lane', 'method', 'route', 'status'],
      registers: api,
    });
    this.httpDuration = new Histogram({
      name: 'analytics_http_request_duration_seconds',
      help: 'Time from the request to the end of its answer, by lane, method and route template',
      labelNames: ['lane', 'method', 'route'],
      buckets: SECONDS_FAST,
      registers: api,
    });
    this.ingestEvents = new Counter({
      name: 'analytics_ingest_events_total',
      help: 'Events received, by verdict (accepted, duplicate, dropped, rejected, quarantined)',
      labelNames: opts.tenantLabels ? ['verdict', 'tenant'] : ['verdict'],
      registers: api,
    });
    this.validationFailures = new Counter({
      name: 'analytics_ingest_validation_failures_total',
      help: 'Validation errors of rejected and quarantined events, by event type (built-in types; custom for tenant types) and schema keyword',
      labelNames: ['event_type', 'keyword'],
      registers: api,
    });
    this.dedupeHits = new Counter({
      name: 'analytics_ingest_dedupe_hits_total',
      help: 'Events answered duplicate, by what decided: fast_path (the Redis claim) or ledger (the durable ledger in Postgres)',
      labelNames: ['stage'],
      registers: api,
    });
    this.otlpItems = new Counter({
      name: 'analytics_otlp_items_total',
      help: 'Spans and log records received over OTLP, by signal (traces, logs) and outcome: mapped (to one event or more), skipped (mapped to no event type), rejected (an event of theirs failed validation)',
      labelNames: ['signal', 'outcome'],
      registers: api,
    });
    this.shedRequests = new Counter({
      name: 'analytics_ingest_shed_requests_total',
      help: 'Ingestion requests answered 503 because the queue backlog was over ANALYTICS_MAX_QUEUE_BACKLOG',
      registers: api,
    });
    this.enqueueFailures = new Counter({
      name: 'analytics_ingest_enqueue_failures_total',
      help: 'Job adds that failed or timed out (their requests answered 503)',
      registers: api,
    });
    this.backlog = new Gauge({
      name: 'analytics_ingest_backlog_jobs',
      help: 'Jobs waiting in the ingest queue (waiting, delayed, prioritized), as the load-shedding gate last read them',
      registers: api,
    });
    this.backlogLimit = new Gauge({
      name: 'analytics_ingest_backlog_limit_jobs',
      help: 'ANALYTICS_MAX_QUEUE_BACKLOG: above it ingestion answers 503',
      registers: api,
    });
    this.reportDuration = new Histogram({
      name: 'analytics_report_duration_seconds',
      help: 'Report time, by kind (timeseries, summary, funnel) and the rollup level read (m, h, d, raw)',
      labelNames: ['kind', 'level'],
      buckets: SECONDS_SLOW,
      registers: api,
    });
    this.reportTimeouts = new Counter({
      name: 'analytics_report_timeouts_total',
      help: 'Reports answered 504 at ANALYTICS_REPORT_TIMEOUT_MS, by kind',
      labelNames: ['kind'],
      registers: api,
    });
    this.wsConnections = new Gauge({
      name: 'analytics_ws_connections',
      help: 'WebSocket ingestion connections open',
      registers: api,
    });
    this.wsMessages = new Counter({
      name: 'analytics_ws_messages_total',
      help: 'WebSocket ingestion messages, by outcome (verdicts, error, retry_after, rate_limited)',
      labelNames: ['outcome'],
      registers: api,
    });
    this.wsMessageDuration = new Histogram({
      name: 'analytics_ws_message_duration_seconds',
      help: 'WebSocket ingestion: time from a message read to its answer sent',
      buckets: SECONDS_FAST,
      registers: api,
    });
    this.wsCloses = new Counter({
      name: 'analytics_ws_closes_total',
      help: 'WebSocket ingestion connections closed by the server, by close code (see the README)',
      labelNames: ['code'],
      registers: api,
    });
    this.wsHandshakes = new Counter({
      name: 'analytics_ws_handshakes_total',
      help: 'WebSocket ingestion handshakes, by HTTP status (101 accepted, 4xx/5xx refused)',
      labelNames: ['status'],
      registers: api,
    });
    this.liveStreams = new Gauge({
      name: 'analytics_live_streams',
      help: 'Live stream (SSE) clients connected',
      registers: api,
    });
    this.liveMessages = new Counter({
      name: 'analytics_live_messages_total',
      help: 'Live stream messages written to clients',
      registers: api,
    });
    this.liveDropped = new Counter({
      name: 'analytics_live_dropped_clients_total',
      help: 'Live stream clients dropped, by reason (slow: its unsent output passed ANALYTICS_LIVE_MAX_BUFFER_KB)',
      labelNames: ['reason'],
      registers: api,
    });

    // Known series start at zero, so that the first observation is already an increase for rate().
    for (const outcome of ['verdicts', 'error', 'retry_after', 'rate_limited']) this.wsMessages.labels(outcome).inc(0);
    this.liveDropped.labels('slow').inc(0);
    for (const route of ['/api/v1/analytics/events', '/api/v1/analytics/events/batch'])
      this.httpDuration.zero({ lane: 'ingest-route', method: 'POST', route });
    for (const [kind, levels] of [
      ['timeseries', ['m', 'h', 'd', 'raw']],
      ['summary', ['mixed']],
      ['funnel', ['raw']],
    ] as const) {
      for (const level of levels) this.reportDuration.zero({ kind, level });
      this.reportTimeouts.labels(kind).inc(0);
    }
    for (const verdict of ['accepted', 'duplicate', 'dropped', 'rejected', 'quarantined'])
      if (!opts.tenantLabels) this.ingestEvents.labels(verdict).inc(0);
    for (const stage of ['fast_path', 'ledger']) this.dedupeHits.labels(stage).inc(0);

    this.queueJobs = new Gauge({
      name: 'analytics_queue_jobs',
      help: 'Jobs in each queue by state, read at each scrape',
      labelNames: ['queue', 'state'],
      registers: worker,
    });
    this.jobs = new Counter({
      name: 'analytics_jobs_total',
      help: 'Jobs run, by queue, job name (job_name: Prometheus keeps `job` for the scrape job) and outcome (completed; retried: failed with attempts left; failed: gave up)',
      labelNames: ['queue', 'job_name', 'outcome'],
      registers: worker,
    });
    this.jobDuration = new Histogram({
      name: 'analytics_job_duration_seconds',
      help: 'Time a job ran, by queue and job name',
      labelNames: ['queue', 'job_name'],
      buckets: SECONDS_SLOW,
      registers: worker,
    });
    this.jobAttempts = new Histogram({
      name: 'analytics_job_attempts',
      help: 'Attempts a job took until it completed or gave up',
      labelNames: ['queue', 'job_name'],
      buckets: [1, 2, 3, 5, 8, 12, 20],
      registers: worker,
    });
    this.eventsPersisted = new Counter({
      name: 'analytics_events_persisted_total',
      help: 'Events stored in analytics_events_raw (fresh in the dedupe ledger)',
      registers: worker,
    });
    this.storageDuplicates = new Counter({
      name: 'analytics_storage_duplicates_total',
      help: 'Events of jobs the ledger already held (a retried job, a repeat that passed the fast path): not stored again',
      registers: worker,
    });
    this.storageRefused = new Counter({
      name: 'analytics_storage_refused_events_total',
      help: 'Events Postgres refused, set aside as refused-event jobs',
      registers: worker,
    });
    this.rollupPending = new Gauge({
      name: 'analytics_rollup_pending_events',
      help: 'Stored events not yet folded into the rollups',
      registers: worker,
    });
    this.foldLag = new Gauge({
      name: 'analytics_rollup_fold_lag_seconds',
      help: 'How long events have been waiting to be folded: 0 when none wait, else the time since the fold last caught up',
      registers: worker,
    });
    this.folded = new Counter({
      name: 'analytics_rollup_folded_events_total',
      help: 'Events folded into the rollups',
      registers: worker,
    });
    this.foldDuration = new Histogram({
      name: 'analytics_rollup_fold_duration_seconds',
      help: 'Time of one fold round (one transaction)',
      buckets: SECONDS_SLOW,
      registers: worker,
    });
    this.dbSize = new Gauge({
      name: 'analytics_db_size_bytes',
      help: 'Size of the database on disk (pg_database_size), read at each scrape',
      registers: worker,
    });
    for (const [job, queue] of Object.entries(JobQueue)) {
      this.jobDuration.zero({ queue, job_name: job });
      for (const outcome of ['completed', 'retried', 'failed']) this.jobs.labels(queue, job, outcome).inc(0);
    }
    this.partitionsAhead = new Gauge({
      name: 'analytics_partitions_ahead_days',
      help: 'Days after today that already have a raw-event partition',
      registers: worker,
    });
  }
}
