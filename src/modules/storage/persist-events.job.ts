import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import type { Job, Queue } from 'bullmq';
import { JobPayloads, QueueName } from '../contracts/jobs';
import { HandlesJob, JobHandler } from '../jobs/job-handler';
import { Telemetry } from '../observability/telemetry.service';
import { RollupFolder } from '../rollups/rollup-folder';
import { PersistOutcome } from './events.repository';
import { RefusedEvent, StorageService } from './storage.service';

/**
 * Stores a job's events once through the dedupe ledger, then folds what was just stored. Each event
 * Postgres refused becomes a `refused-event` job of its own, which fails at once with the reason:
 * it waits in the ingest queue's failed set, where Bull Board shows the event and why.
 */
@Injectable()
@HandlesJob('persist-events')
export class PersistEventsJob implements JobHandler<'persist-events'> {
  constructor(
    private readonly storage: StorageService,
    private readonly folder: RollupFolder,
    @InjectQueue(QueueName.Ingest) private readonly ingest: Queue,
    private readonly telemetry: Telemetry,
  ) {}

  async handle({ events }: JobPayloads['persist-events'], job?: Job): Promise<PersistOutcome & { refused?: number }> {
    const { inserted, duplicates, refused } = await this.storage.persist(events);
    this.telemetry.persisted(inserted, duplicates, refused.length);
    if (inserted) this.folder.kick(); // fold what was just stored, while it is fresh
    if (!refused.length) return { inserted, duplicates };
    await this.setAside(refused, job?.id ?? null);
    return { inserted, duplicates, refused: refused.length };
  }

  /**
   * One job per refused event, its id derived from this job's and the event's: when this job is
   * retried after its good events were stored (a crash before it completed), the refusals it adds
   * again are the same jobs, which BullMQ does not add twice.
   */
  private async setAside(refused: RefusedEvent[], jobId: string | null): Promise<void> {
    await this.ingest.addBulk(
      refused.map(({ event, error }) => ({
        name: 'refused-event',
        data: { event, error, job: jobId } satisfies JobPayloads['refused-event'],
        opts: {
          attempts: 1,
          ...(jobId ? { jobId: `refused-${jobId}-${eventKey(event.tenant_id, event.event_id)}` } : {}),
        },
      })),
    );
  }
}

function eventKey(tenantId: unknown, eventId: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify([tenantId ?? null, eventId ?? null]))
    .digest('hex')
    .slice(0, 24);
}
