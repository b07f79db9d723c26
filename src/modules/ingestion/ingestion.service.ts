import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { JobPayloads, QueueName, StoredEvent } from '../../app/queues';
import { ProblemException } from '../../common/problem';
import { AnalyticsConfig } from '../config/analytics-config';
import { EnvelopeValidator } from '../schema-registry/envelope-validator';
import { DedupeStore } from './dedupe.store';
import { EventBatcher } from './event-batcher';
import { AssessmentRules, assessEvent } from './event-assessment';
import { EventVerdict, IngestSummary, summarize } from './event-verdict';
import { IngestStats } from './ingest-stats';

const ENQUEUE_TIMEOUT_MS = 3000;
const FOREIGN_TENANT = { pointer: '/tenant_id', keyword: 'tenant', message: '/tenant_id is not the tenant of this API key' };

/** authenticate → validate → dedupe → enqueue; answers with one verdict per event. */
@Injectable()
export class IngestionService implements OnModuleDestroy {
  private readonly logger = new Logger(IngestionService.name);
  private readonly rules: AssessmentRules;
  private readonly singles: EventBatcher<StoredEvent>;

  constructor(
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
    private readonly envelope: EnvelopeValidator,
    private readonly dedupe: DedupeStore,
    private readonly stats: IngestStats,
    @InjectQueue(QueueName.Ingest) private readonly queue: Queue<JobPayloads['persist-events']>,
  ) {
    const i = config.ingestion;
    this.rules = {
      maxDepth: i.maxNestingDepth,
      maxStringLength: i.maxStringLength,
      clockSkewToleranceMs: i.clockSkewToleranceMs,
      retentionDays: config.privacy.retentionDays,
    };
    this.singles = new EventBatcher((events) => this.enqueue(events), { maxItems: i.maxBatchSize, lingerMs: i.batchLingerMs });
  }

  /** One event: its verdict, or a 400 problem listing its errors when it is rejected. */
  async ingestOne(body: unknown, tenantId: string): Promise<EventVerdict> {
    const [verdict] = await this.ingest([body], tenantId, (events) => this.singles.add(events));
    if (verdict.status === 'rejected') {
      throw new ProblemException(400, 'invalid-event', 'Invalid event',
        verdict.errors!.map((e) => e.message).join('; '), { errors: verdict.errors, result: verdict });
    }
    return verdict;
  }

  /** A batch: one verdict per event, in order; the accepted ones travel as one job. */
  async ingestBatch(body: unknown, tenantId: string): Promise<IngestSummary> {
    const { events, batchId } = this.readBatch(body);
    const results = await this.ingest(events, tenantId, (accepted) => this.enqueue(accepted));
    return summarize(results, batchId);
  }

  private readBatch(body: unknown): { events: unknown[]; batchId?: string } {
    const max = this.config.ingestion.maxBatchSize;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new ProblemException(400, 'invalid-batch', 'Invalid batch', 'The body must be a JSON object {"events": [...], "batch_id"?: string}.');
    }
    const { events, batch_id: batchId, ...rest } = body as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length) {
      throw new ProblemException(400, 'invalid-batch', 'Invalid batch', `Unknown field(s) in the batch: ${unknown.slice(0, 5).map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}; expected events and batch_id.`);
    }
    if (!Array.isArray(events)) {
      throw new ProblemException(400, 'invalid-batch', 'Invalid batch', '/events is required and must be an array of events.');
    }
    if (events.length === 0) {
      throw new ProblemException(400, 'invalid-batch', 'Invalid batch', '/events is empty; send at least one event.');
    }
    if (events.length > max) {
      throw new ProblemException(413, 'batch-too-large', 'Batch too large',
        `/events holds ${events.length} events; the limit is ${max} (ANALYTICS_MAX_BATCH_SIZE). Split the batch.`, { limit: max });
    }
    if (batchId !== undefined && (typeof batchId !== 'string' || batchId.length < 1 || batchId.length > 128 || batchId.includes('\u0000'))) {
      throw new ProblemException(400, 'invalid-batch', 'Invalid batch', '/batch_id must be a string of 1 to 128 characters.');
    }
    return { events, batchId: batchId as string | undefined };
  }

  private async ingest(raw: unknown[], tenantId: string, send: (events: StoredEvent[]) => Promise<void>): Promise<EventVerdict[]> {
    const now = new Date();
    const results: EventVerdict[] = new Array(raw.length);
    const valid: { index: number; event: StoredEvent }[] = [];
    raw.forEach((item, index) => {
      const a = assessEvent(item, (e) => this.envelope.validate(e), this.rules, now);
      if (a.ok && a.event.tenant_id !== tenantId) {
        results[index] = { index, event_id: a.event.event_id, status: 'rejected', errors: [FOREIGN_TENANT] };
      } else if (a.ok) valid.push({ index, event: a.event });
      else results[index] = { index, event_id: a.eventId, status: 'rejected', errors: a.errors };
    });

    const claims = await this.guard(() => this.dedupe.claim(valid.map((v) => v.event)));
    const fresh: StoredEvent[] = [];
    valid.forEach((v, i) => {
      results[v.index] = { index: v.index, event_id: v.event.event_id, status: claims[i] ? 'accepted' : 'duplicate' };
      if (claims[i]) fresh.push(v.event);
    });

    if (fresh.length) {
      try {
        await send(fresh);
      } catch (err) {
        await this.dedupe.release(fresh).catch(() => undefined);
        this.logger.warn(`Enqueue failed, ${fresh.length} event(s) answered 503: ${(err as Error).message}`);
        throw unavailable('The events could not be queued; nothing was stored. Retry the same request.');
      }
    }
    const counts = { accepted: fresh.length, duplicate: valid.length - fresh.length, rejected: raw.length - valid.length };
    this.stats.record(tenantId, counts);
    if (this.config.debug) {
      this.logger.debug(`ingest: ${raw.length} received, ${counts.accepted} accepted, ${counts.duplicate} duplicate, ${counts.rejected} rejected`);
    }
    return results;
  }

  /** Adds one job carrying all the events; resolves only once the job is in Redis. */
  private async enqueue(events: StoredEvent[]): Promise<void> {
    await withTimeout(this.queue.add('persist-events', { events }), ENQUEUE_TIMEOUT_MS, 'queue add timed out');
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      this.logger.warn(`Dedupe store unavailable: ${(err as Error).message}`);
      throw unavailable('The dedupe store (Redis) is unavailable; nothing was stored. Retry the same request.');
    }
  }

  onModuleDestroy(): void {
    this.singles.flush();
  }
}

function unavailable(detail: string): ProblemException {
  return new ProblemException(503, 'unavailable', 'Service unavailable', detail, {}, { 'Retry-After': '1' });
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); }),
  ]);
}
