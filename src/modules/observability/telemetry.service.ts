import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { InjectDataSource } from '@nestjs/typeorm';
import { context, ROOT_CONTEXT, Span, SpanContext, SpanKind, SpanStatusCode, trace, Tracer } from '@opentelemetry/api';
import type { Job, Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { RedisClient } from '../../common/redis.provider';
import { AnalyticsConfig } from '../config/analytics-config';
import { QueueName } from '../contracts/jobs';
import { BUILTIN_EVENT_NAMES } from '../schema-registry/builtin-events';
import type { Role } from './log';
import { ServiceMetrics } from './service-metrics';
import { carrierFor, fromCarrier, stopTracing, TraceCarrier } from './tracing';

export const TELEMETRY_OPTIONS = Symbol('TelemetryOptions');

export interface TelemetryOptions {
  role: Role;
  /** Where spans go; null: tracing off (the default unless OTEL_* configure it). */
  tracerProvider: import('@opentelemetry/api').TracerProvider | null;
}

export type Verdicts = Record<'accepted' | 'duplicate' | 'dropped' | 'rejected' | 'quarantined', number>;
const VERDICTS: (keyof Verdicts)[] = ['accepted', 'duplicate', 'dropped', 'rejected', 'quarantined'];
const KEYWORD = /^[A-Za-z$][A-Za-z0-9_]{0,39}$/;
const MAX_KEYWORDS = 64;
const SCRAPE_STEP_MS = 2000;

/** A gauge's value read at scrape time by the module that owns the figure (pending rollups, partitions). */
export type ScrapeHook = () => Promise<void>;

/**
 * The one telemetry seam: metrics, job log lines and spans. Every way in and every job goes
 * through it, the hand-written ingest route included (see HttpTelemetry for the requests).
 */
@Injectable()
export class Telemetry implements OnApplicationShutdown {
  readonly metrics: ServiceMetrics;
  readonly role: Role;
  private readonly tracer: Tracer | null;
  private readonly jobLog = new Logger('Job');
  private readonly hooks: ScrapeHook[] = [];
  private readonly keywords = new Set<string>();
  private readonly verdictChildren = new Map<string, { inc(n: number): void }>();

  constructor(
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
    @Inject(TELEMETRY_OPTIONS) opts: TelemetryOptions,
    @InjectDataSource() private readonly db: DataSource,
    private readonly redis: RedisClient,
    @InjectQueue(QueueName.Ingest) private readonly ingestQueue: Queue,
    @InjectQueue(QueueName.Maintenance) private readonly maintenanceQueue: Queue,
  ) {
    this.role = opts.role;
    this.metrics = new ServiceMetrics(opts.role, { tenantLabels: config.telemetry.tenantLabels });
    this.tracer = opts.tracerProvider?.getTracer('analytics-service') ?? null;
    this.metrics.backlogLimit.set(config.ingestion.maxQueueBacklog);
  }

  get tracing(): boolean {
    return this.tracer !== null;
  }

  /** Adds work run before each scrape (a gauge read from Postgres, say); each bounded by 2 s. */
  onScrape(hook: ScrapeHook): void {
    this.hooks.push(hook);
  }

  /** The exposition text of this role's metrics, gauges refreshed first. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    await Promise.all(
      [() => this.readCommon(), ...(this.role === 'worker' ? [() => this.readQueues()] : []), ...this.hooks].map(
        (hook) => bounded(hook(), SCRAPE_STEP_MS).catch(() => undefined),
      ),
    );
    return { contentType: this.metrics.registry.contentType, body: await this.metrics.registry.metrics() };
  }

  // ------------------------------------------------------------------ ingestion (api)

  /** A request's verdicts. */
  verdicts(tenantId: string, counts: Verdicts): void {
    for (const v of VERDICTS) {
      const n = counts[v];
      if (!n) continue;
      const key = this.config.telemetry.tenantLabels ? `${v}|${tenantId}` : v;
      let child = this.verdictChildren.get(key);
      if (!child) {
        child = this.config.telemetry.tenantLabels
          ? this.metrics.ingestEvents.labels(v, tenantId)
          : this.metrics.ingestEvents.labels(v);
        this.verdictChildren.set(key, child);
      }
      child.inc(n);
    }
  }

  /** An OTLP export's spans or records: how many mapped to events, were skipped, were rejected. */
  otlpItems(signal: 'traces' | 'logs', counts: { mapped: number; skipped: number; rejected: number }): void {
    for (const outcome of ['mapped', 'skipped', 'rejected'] as const) {
      if (counts[outcome]) this.metrics.otlpItems.labels(signal, outcome).inc(counts[outcome]);
    }
  }

  /** One validation error of an event: its type (built-in name, else custom) and the schema keyword. */
  validationFailure(eventName: unknown, keyword: string): void {
    const type =
      typeof eventName === 'string' && BUILTIN_EVENT_NAMES.has(eventName)
        ? eventName
        : typeof eventName === 'string'
          ? 'custom'
          : 'unknown';
    let kw = KEYWORD.test(keyword) ? keyword : 'other';
    if (!this.keywords.has(kw)) {
      if (this.keywords.size >= MAX_KEYWORDS) kw = 'other';
      else this.keywords.add(kw);
    }
    this.metrics.validationFailures.labels(type, kw).inc();
  }

  dedupeHits(fastPath: number, ledger: number): void {
    if (fastPath) this.metrics.dedupeHits.labels('fast_path').inc(fastPath);
    if (ledger) this.metrics.dedupeHits.labels('ledger').inc(ledger);
  }

  // ------------------------------------------------------------------ spans

  /** Runs `fn` in a span (a child of the active one); just runs it when tracing is off. */
  span<T>(name: string, fn: (span: Span | null) => Promise<T>, kind: SpanKind = SpanKind.INTERNAL): Promise<T> {
    if (!this.tracer) return fn(null);
    return this.tracer.startActiveSpan(name, { kind }, (span) => ended(span, fn(span)));
  }

  /**
   * Runs `fn` in a span continuing the first of `causes` (the spans whose work it does, such as the
   * jobs whose events a fold round folds) and linked to the others; a root span without causes.
   */
  spanFor<T>(name: string, causes: SpanContext[], fn: (span: Span | null) => Promise<T>): Promise<T> {
    if (!this.tracer) return fn(null);
    const [first, ...rest] = causes;
    const parent = first ? trace.setSpanContext(ROOT_CONTEXT, first) : ROOT_CONTEXT;
    return this.tracer.startActiveSpan(
      name,
      { links: rest.slice(0, 128).map((c) => ({ context: c })) },
      parent,
      (span) => ended(span, fn(span)),
    );
  }

  /** The active span's context, when tracing: a job carries it (and the others it serves) to the worker. */
  activeSpanContext(): SpanContext | undefined {
    if (!this.tracer) return undefined;
    return trace.getActiveSpan()?.spanContext();
  }

  /** The trace context a job carries: the active span's, with links to the other requests' contexts. */
  carrier(others: (SpanContext | undefined)[]): TraceCarrier | undefined {
    if (!this.tracer) return undefined;
    return carrierFor(
      this.activeSpanContext(),
      others.filter((o): o is SpanContext => o !== undefined),
    );
  }

  /** Starts a server span for a request, continuing the caller's trace; null when tracing is off. */
  startServerSpan(name: string, parent: import('@opentelemetry/api').Context): Span | null {
    return this.tracer?.startSpan(name, { kind: SpanKind.SERVER }, parent) ?? null;
  }

  // ------------------------------------------------------------------ jobs (worker)

  /**
   * Runs one job: a span continuing the trace its data carries, its duration and outcome counted,
   * and one log line (job id, events, duration, outcome). Attempts are counted when it completes
   * or gives up.
   */
  async runJob<T>(queue: string, job: Job, run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const data = job.data as { events?: unknown[]; trace?: TraceCarrier } | undefined;
    const events = Array.isArray(data?.events) ? data.events.length : undefined;
    const attempt = job.attemptsMade + 1;
    const work = () =>
      this.tracer
        ? (() => {
            const { parent, links } = fromCarrier(data?.trace);
            return this.tracer.startActiveSpan(
              `job ${job.name}`,
              {
                kind: SpanKind.CONSUMER,
                links,
                attributes: { 'messaging.destination.name': queue, 'job.attempt': attempt },
              },
              parent,
              (span) => ended(span, run()),
            );
          })()
        : run();
    const fields = { job_id: job.id, job: job.name, queue, attempt, ...(events !== undefined ? { events } : {}) };
    try {
      const result = await work();
      const s = (performance.now() - started) / 1000;
      this.metrics.jobs.labels(queue, job.name, 'completed').inc();
      this.metrics.jobDuration.labels(queue, job.name).observe(s);
      this.metrics.jobAttempts.labels(queue, job.name).observe(attempt);
      this.jobLog.log({ ...fields, duration_ms: round(s * 1000), outcome: 'completed' }, 'job completed');
      return result;
    } catch (err) {
      const s = (performance.now() - started) / 1000;
      const final = attempt >= (job.opts.attempts ?? 1) || (err as Error)?.name === 'UnrecoverableError';
      this.metrics.jobs.labels(queue, job.name, final ? 'failed' : 'retried').inc();
      this.metrics.jobDuration.labels(queue, job.name).observe(s);
      if (final) this.metrics.jobAttempts.labels(queue, job.name).observe(attempt);
      this.jobLog.warn(
        {
          ...fields,
          duration_ms: round(s * 1000),
          outcome: final ? 'failed' : 'retried',
          error: (err as Error)?.message ?? String(err),
        },
        'job failed',
      );
      throw err;
    }
  }

  persisted(inserted: number, duplicates: number, refused: number): void {
    if (inserted) this.metrics.eventsPersisted.inc(inserted);
    if (duplicates) this.metrics.storageDuplicates.inc(duplicates);
    if (refused) this.metrics.storageRefused.inc(refused);
  }

  // ------------------------------------------------------------------ scrape-time gauges

  private async readCommon(): Promise<void> {
    const pool = (
      this.db.driver as unknown as { master?: { totalCount: number; idleCount: number; waitingCount: number } }
    ).master;
    if (pool) {
      this.metrics.dbPool.labels('total').set(pool.totalCount);
      this.metrics.dbPool.labels('idle').set(pool.idleCount);
      this.metrics.dbPool.labels('waiting').set(pool.waitingCount);
    }
    const t0 = performance.now();
    try {
      await bounded(this.redis.ping(), SCRAPE_STEP_MS);
      this.metrics.redisPing.set((performance.now() - t0) / 1000);
      this.metrics.redisUp.set(1);
    } catch {
      this.metrics.redisUp.set(0);
    }
  }

  private async readQueues(): Promise<void> {
    const states = ['waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed'] as const;
    for (const [name, queue] of [
      [QueueName.Ingest, this.ingestQueue],
      [QueueName.Maintenance, this.maintenanceQueue],
    ] as const) {
      const counts = await queue.getJobCounts(...states);
      for (const s of states) this.metrics.queueJobs.labels(name, s).set(counts[s] ?? 0);
    }
    const [{ bytes }] = await this.db.query<{ bytes: string }[]>(
      'SELECT pg_database_size(current_database()) AS bytes',
    );
    this.metrics.dbSize.set(Number(bytes));
  }

  /** Set once the role has started (the worker: consuming its queues), for the startup probe. */
  started = false;

  /** Spans still buffered are sent before the process ends. */
  async onApplicationShutdown(): Promise<void> {
    await stopTracing();
  }
}

function ended<T>(span: Span, p: Promise<T>): Promise<T> {
  return p.then(
    (v) => {
      span.end();
      return v;
    },
    (err: unknown) => {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message?.slice(0, 200) });
      span.end();
      throw err;
    },
  );
}

function bounded<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timed out')), ms);
    }),
  ]);
}

const round = (ms: number) => Math.round(ms * 10) / 10;

/** Runs `fn` with `span` active (a server span around a request). */
export function withSpan<T>(span: Span, fn: () => T): T {
  return context.with(trace.setSpan(context.active(), span), fn);
}
