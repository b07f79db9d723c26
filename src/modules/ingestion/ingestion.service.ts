import { randomBytes } from 'node:crypto';
import { isJsonObject } from '../../common/validation';
import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { QuarantinedEvent, StoredEvent } from '../contracts/stored-event';
import { JobName, JobPayloads, QueueName } from '../contracts/jobs';
import { ProblemException } from '../../common/problem';
import { Principal } from '../auth/principal';
import { PrivacyService } from '../privacy/privacy.service';
import { sanitizeText } from '../privacy/sanitizer';
import { AnalyticsConfig } from '../config/analytics-config';
import { EventValidator } from '../schema-registry/event-validator';
import { SchemaCatalog } from '../schema-registry/schema-catalog.service';
import { TenantSchemaSet } from '../schema-registry/tenant-schema-set';
import { Admission, AdmissionStore, LedgerUnavailable, SubjectPolicy } from './admission.store';
import { EventBatcher } from './event-batcher';
import { AssessmentRules, assessEvent, assessmentRules, eventChecks } from './event-assessment';
import { EventVerdict, IngestSummary, summarize } from './event-verdict';
import { IngestStats } from './ingest-stats';
import { BacklogGate } from './backlog-gate';
import { SpanKind, type SpanContext } from '@opentelemetry/api';
import { Telemetry } from '../observability/telemetry.service';

const ENQUEUE_TIMEOUT_MS = 3000;
const FOREIGN_TENANT = {
  pointer: '/tenant_id',
  keyword: 'tenant',
  message: '/tenant_id is not the tenant of this API key',
};

/** What a request hands to the queue: events to store, and events to keep in quarantine. */
export type Outgoing = { store: StoredEvent } | { quarantine: QuarantinedEvent };

/** An event on its way to the queue: as received (its consent and dedupe keys), as it will be queued (sanitized), and its tenant's retention and secret. */
interface Admissible {
  received: StoredEvent;
  outgoing: Outgoing;
  policy: SubjectPolicy;
  /** The request's span, when tracing: the job that carries the event links to it. */
  span?: SpanContext;
}

/**
 * authenticate → validate → sanitize → consent and dedupe → enqueue; answers with one verdict per
 * event. A batch is admitted and queued on its own; single events arriving close together are
 * admitted and queued together (EventBatcher), one Redis call and one job for the group.
 */
@Injectable()
export class IngestionService implements OnModuleDestroy {
  private readonly logger = new Logger(IngestionService.name);
  private readonly rules: AssessmentRules;
  private readonly singles: EventBatcher<Admissible, Admission>;

  constructor(
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
    private readonly validator: EventValidator,
    private readonly schemas: SchemaCatalog,
    private readonly admission: AdmissionStore,
    private readonly stats: IngestStats,
    private readonly privacy: PrivacyService,
    private readonly backlog: BacklogGate,
    private readonly telemetry: Telemetry,
    @InjectQueue(QueueName.Ingest) private readonly queue: Queue,
  ) {
    this.rules = assessmentRules(config);
    const i = config.ingestion;
    this.singles = new EventBatcher((items) => this.admitAndEnqueue(items), {
      maxItems: i.maxBatchSize,
      lingerMs: i.batchLingerMs,
    });
  }

  /** One event: its verdict, or a 400 problem listing its errors when it is rejected. */
  async ingestOne(body: unknown, principal: Principal): Promise<EventVerdict> {
    const [verdict] = await this.ingest([body], principal, (items) => this.singles.add(items));
    if (verdict.status === 'rejected') {
      throw new ProblemException(
        400,
        'invalid-event',
        'Invalid event',
        verdict.errors!.map((e) => e.message).join('; '),
        { errors: verdict.errors, result: verdict },
      );
    }
    return verdict;
  }

  /** A batch: one verdict per event, in order; what it accepts travels as one job. */
  async ingestBatch(body: unknown, principal: Principal): Promise<IngestSummary> {
    const { events, batchId } = this.readBatch(body);
    const results = await this.ingest(events, principal, (items) => this.admitAndEnqueue(items, true));
    return summarize(results, batchId);
  }

  /**
   * Events that another protocol's request carries (OTLP spans and log records, mapped): the same
   * steps as a batch, one verdict per event in order, all accepted ones in one job. The request's
   * own size limit bounds how many there are, not ANALYTICS_MAX_BATCH_SIZE.
   */
  async ingestEvents(events: unknown[], principal: Principal): Promise<EventVerdict[]> {
    return this.ingest(events, principal, (items) => this.admitAndEnqueue(items, true));
  }

  private readBatch(body: unknown): { events: unknown[]; batchId?: string } {
    const max = this.config.ingestion.maxBatchSize;
    if (!isJsonObject(body)) {
      throw new ProblemException(
        400,
        'invalid-batch',
        'Invalid batch',
        'The body must be a JSON object {"events": [...], "batch_id"?: string}.',
      );
    }
    const { events, batch_id: batchId, ...rest } = body;
    const unknown = Object.keys(rest);
    if (unknown.length) {
      throw new ProblemException(
        400,
        'invalid-batch',
        'Invalid batch',
        `Unknown field(s) in the batch: ${unknown
          .slice(0, 5)
          .map((k) => JSON.stringify(k.slice(0, 40)))
          .join(', ')}; expected events and batch_id.`,
      );
    }
    if (!Array.isArray(events)) {
      throw new ProblemException(
        400,
        'invalid-batch',
        'Invalid batch',
        '/events is required and must be an array of events.',
      );
    }
    if (events.length === 0) {
      throw new ProblemException(400, 'invalid-batch', 'Invalid batch', '/events is empty; send at least one event.');
    }
    if (events.length > max) {
      throw new ProblemException(
        413,
        'batch-too-large',
        'Batch too large',
        `/events holds ${events.length} events; the limit is ${max} (ANALYTICS_MAX_BATCH_SIZE). Split the batch.`,
        { limit: max },
      );
    }
    if (
      batchId !== undefined &&
      (typeof batchId !== 'string' || batchId.length < 1 || batchId.length > 128 || batchId.includes('\u0000'))
    ) {
      throw new ProblemException(
        400,
        'invalid-batch',
        'Invalid batch',
        '/batch_id must be a string of 1 to 128 characters.',
      );
    }
    return { events, batchId };
  }

  private async ingest(
    raw: unknown[],
    principal: Principal,
    send: (items: Admissible[]) => Promise<Admission[]>,
  ): Promise<EventVerdict[]> {
    const { tenantId } = principal;
    const wait = this.backlog.retryAfter();
    if (wait !== null) {
      this.telemetry.metrics.shedRequests.inc();
      throw new ProblemException(
        503,
        'backlog',
        'Service unavailable',
        `The workers are behind (more than ${this.config.ingestion.maxQueueBacklog} jobs waiting, ANALYTICS_MAX_QUEUE_BACKLOG); nothing was stored. Retry after ${wait} s.`,
        {},
        { 'Retry-After': String(wait) },
      );
    }
    const now = new Date();
    const schemas = await this.schemaSet(tenantId);
    const checks = eventChecks(this.validator, schemas);
    const rules = { ...this.rules, retentionDays: principal.privacy.retentionDays };
    const results: EventVerdict[] = new Array<EventVerdict>(raw.length);
    const candidates: { index: number; item: Outgoing; event: StoredEvent; errors?: EventVerdict['errors'] }[] = [];
    raw.forEach((input, index) => {
      const a = assessEvent(input, checks, rules, now);
      const event = a.ok ? a.event : a.quarantine;
      if (event && event.tenant_id !== tenantId) {
        results[index] = { index, event_id: event.event_id, status: 'rejected', errors: [FOREIGN_TENANT] };
      } else if (a.ok) {
        candidates.push({ index, item: { store: a.event }, event: a.event });
      } else if (a.quarantine && principal.validationMode === 'quarantine') {
        candidates.push({
          index,
          item: { quarantine: { event: a.quarantine, errors: a.errors } },
          event: a.quarantine,
          errors: a.errors,
        });
      } else {
        results[index] = { index, event_id: a.eventId, status: 'rejected', errors: a.errors };
      }
    });

    // Personal data out of what will be queued, before anything is stored or logged; then consent
    // and the dedupe claim in one round trip to Redis (quarantined events claim their key too: a
    // resend is a duplicate, not a second copy), and the claimed events into the queue.
    if (candidates.length) {
      const clean = this.privacy.sanitize(
        candidates.map((c) => c.event),
        principal.privacy,
        schemas,
      );
      const policy = principal.privacy;
      const span = this.telemetry.activeSpanContext();
      const admitted = await send(
        candidates.map((c, i) => ({
          received: c.event,
          outgoing:
            'store' in c.item
              ? { store: clean[i] }
              : { quarantine: { event: clean[i], errors: c.item.quarantine.errors } },
          policy,
          span,
        })),
      );
      if (admitted.includes('over-quota')) throw this.consentQuotaExceeded(principal, raw.length);
      candidates.forEach((c, i) => {
        const status =
          admitted[i] === 'claimed'
            ? 'store' in c.item
              ? 'accepted'
              : 'quarantined'
            : admitted[i] === 'dropped'
              ? 'dropped'
              : 'duplicate';
        results[c.index] = {
          index: c.index,
          event_id: c.event.event_id,
          status,
          ...(status === 'quarantined' ? { errors: c.errors } : {}),
        };
      });
    }
    const counts = {
      accepted: results.filter((r) => r.status === 'accepted').length,
      duplicate: results.filter((r) => r.status === 'duplicate').length,
      dropped: results.filter((r) => r.status === 'dropped').length,
      rejected: results.filter((r) => r.status === 'rejected').length,
      quarantined: results.filter((r) => r.status === 'quarantined').length,
    };
    this.stats.record(tenantId, counts);
    this.telemetry.verdicts(tenantId, counts);
    if (counts.rejected || counts.quarantined) {
      for (const r of results) {
        if (!r.errors) continue;
        const name = (raw[r.index] as { event_name?: unknown } | null)?.event_name;
        for (const e of r.errors) this.telemetry.validationFailure(name, e.keyword);
      }
    }
    if (this.config.debug) {
      this.logger.debug(
        `ingest: ${raw.length} received, ${counts.accepted} accepted, ${counts.duplicate} duplicate, ${counts.dropped} dropped, ${counts.rejected} rejected, ${counts.quarantined} quarantined`,
      );
      // Each event's validation result and dedupe decision. Through the sanitizer too: an error
      // message may quote what the client sent.
      for (const r of results) {
        this.logger.debug(
          sanitizeText(
            `event ${r.event_id ?? `#${r.index}`} ${r.status}${r.status === 'duplicate' ? ' (already received: not queued again)' : ''}${r.errors ? `: ${r.errors.map((e) => `${e.keyword} at ${e.pointer || '/'}: ${e.message}`).join('; ')}` : ' (valid)'}`,
          ),
        );
      }
    }
    return results;
  }

  private async schemaSet(tenantId: string): Promise<TenantSchemaSet> {
    try {
      return await this.schemas.forTenant(tenantId);
    } catch (err) {
      this.logger.warn(`Tenant schemas unavailable: ${(err as Error).message}`);
      throw unavailable(
        "This tenant's schemas cannot be loaded right now (database unavailable); nothing was stored. Retry shortly.",
      );
    }
  }

  /**
   * Consent and the dedupe claim for these events (one Redis call), then the claimed ones into the
   * queue; answers each event's admission. If the queue refuses them, their claims are given back.
   */
  private async admitAndEnqueue(items: Admissible[], whole = false): Promise<Admission[]> {
    // The jobs' ids are chosen before the claims, which name them: a later repeat whose claim names
    // a job no longer in Redis is settled by the ledger, never answered duplicate unseen.
    const ids = { store: newJobId(), quarantine: newJobId() };
    const admitted = await this.telemetry.span('ingest.admission', () =>
      this.guard(() =>
        this.admission.admit(
          items.map((i) => i.received),
          items.map((i) => i.policy),
          items.map((i) => ('store' in i.outgoing ? ids.store : ids.quarantine)),
          { whole },
        ),
      ),
    );
    const claimed = items.filter((_, i) => admitted[i] === 'claimed');
    if (claimed.length) {
      try {
        await this.telemetry.span(
          'queue.enqueue',
          () =>
            this.enqueue(
              claimed.map((c) => c.outgoing),
              ids,
              claimed.map((c) => c.span),
            ),
          SpanKind.PRODUCER,
        );
      } catch (err) {
        this.telemetry.metrics.enqueueFailures.inc();
        await this.admission.release(claimed.map((c) => c.received)).catch(() => undefined);
        this.logger.warn(`Enqueue failed, ${claimed.length} event(s) answered 503: ${(err as Error).message}`);
        throw unavailable('The events could not be queued; nothing was stored. Retry the same request.');
      }
    }
    return admitted;
  }

  /** Adds the jobs carrying these items in one atomic step; resolves once they are in Redis. */
  private async enqueue(
    items: Outgoing[],
    ids: { store: string; quarantine: string },
    spans: (SpanContext | undefined)[],
  ): Promise<void> {
    const store = items.flatMap((o) => ('store' in o ? [o.store] : []));
    const quarantine = items.flatMap((o) => ('quarantine' in o ? [o.quarantine] : []));
    // With tracing on, the job carries the trace context on to the worker (and links to the other requests it serves).
    const trace = this.telemetry.carrier(spans);
    const jobs: { name: JobName; data: JobPayloads[JobName]; opts: { jobId: string } }[] = [];
    if (store.length)
      jobs.push({
        name: 'persist-events',
        data: { events: store, ...(trace ? { trace } : {}) },
        opts: { jobId: ids.store },
      });
    if (quarantine.length)
      jobs.push({
        name: 'quarantine-events',
        data: { events: quarantine, ...(trace ? { trace } : {}) },
        opts: { jobId: ids.quarantine },
      });
    const added: Promise<unknown> =
      jobs.length === 1 ? this.queue.add(jobs[0].name, jobs[0].data, jobs[0].opts) : this.queue.addBulk(jobs);
    await withTimeout(added, ENQUEUE_TIMEOUT_MS, 'queue add timed out');
  }

  /**
   * A request whose consent withdrawal cannot be recorded: nothing of it was stored (a batch is
   * decided whole), and the client is told, since the record is what drops the subject's later events.
   */
  private consentQuotaExceeded(p: Principal, events: number): ProblemException {
    const max = this.config.privacy.consentMaxSubjects;
    return new ProblemException(
      429,
      'consent-quota',
      'Consent quota reached',
      `This tenant already keeps ${max} consent withdrawals (ANALYTICS_CONSENT_MAX_SUBJECTS), and ${events === 1 ? 'this event withdraws' : 'this request holds an event withdrawing'} consent for a subject without one: nothing of this request was stored. Withdrawals expire after the tenant's retention (${p.privacy.retentionDays} days) and end when consent is given again; ask the operator to raise the quota.`,
      { quota: 'consent_subjects', limit: max },
    );
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof LedgerUnavailable) {
        this.logger.warn(`Dedupe ledger unavailable for a repeat: ${err.message}`);
        throw unavailable(
          'Whether some of these events were stored before cannot be checked right now (database unavailable); nothing was stored. Retry the same request.',
        );
      }
      this.logger.warn(`Redis unavailable for consent and dedupe: ${(err as Error).message}`);
      throw unavailable('The dedupe store (Redis) is unavailable; nothing was stored. Retry the same request.');
    }
  }

  /** Shutdown (HttpDrain): sends the single events waiting to be grouped, and later ones at once; how many waited. */
  flushOnShutdown(): number {
    return this.singles.drain();
  }

  onModuleDestroy(): void {
    this.singles.flush();
  }
}

/** A job id of our own (BullMQ's are a counter): random, and never mistaken for a number. */
function newJobId(): string {
  return `j${randomBytes(12).toString('base64url')}`;
}

function unavailable(detail: string): ProblemException {
  return new ProblemException(503, 'unavailable', 'Service unavailable', detail, {}, { 'Retry-After': '1' });
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]);
}
