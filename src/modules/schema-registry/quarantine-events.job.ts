import { Injectable } from '@nestjs/common';
import type { JobPayloads } from '../contracts/jobs';
import { HandlesJob, JobHandler } from '../jobs/job-handler';
import { QuarantineRepository } from './quarantine.repository';

/** Keeps events that failed only their content schema apart, with their errors. */
@Injectable()
@HandlesJob('quarantine-events')
export class QuarantineEventsJob implements JobHandler<'quarantine-events'> {
  constructor(private readonly quarantine: QuarantineRepository) {}

  async handle({ events }: JobPayloads['quarantine-events']): Promise<{ quarantined: number }> {
    return { quarantined: await this.quarantine.insert(events) };
  }
}
