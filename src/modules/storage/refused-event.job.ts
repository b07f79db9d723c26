import { Injectable } from '@nestjs/common';
import { UnrecoverableError } from 'bullmq';
import type { JobPayloads } from '../contracts/jobs';
import { HandlesJob, JobHandler } from '../jobs/job-handler';

/**
 * An event Postgres refused to store (its persist-events job stored the others). The job exists to
 * be seen: it fails at once, without retries, with Postgres's reason, and stays in the ingest
 * queue's failed set (Bull Board) holding the event. Retrying it fails the same way: the event
 * itself is what Postgres refuses, so it must be corrected and sent again.
 */
@Injectable()
@HandlesJob('refused-event')
export class RefusedEventJob implements JobHandler<'refused-event'> {
  handle({ event, error, job }: JobPayloads['refused-event']): Promise<never> {
    return Promise.reject(
      new UnrecoverableError(
        `Event ${String(event.event_id)} of tenant ${String(event.tenant_id)} (persist-events job ${job ?? 'unknown'}) was not stored; Postgres refused it: ${error.message}`,
      ),
    );
  }
}
