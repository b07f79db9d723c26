import { Injectable } from '@nestjs/common';
import type { JobPayloads } from '../contracts/jobs';
import { HandlesJob, JobHandler } from '../jobs/job-handler';
import { RollupFolder } from '../rollups/rollup-folder';
import { PersistOutcome } from './events.repository';
import { StorageService } from './storage.service';

/** Stores a job's events once through the dedupe ledger, then folds what was just stored. */
@Injectable()
@HandlesJob('persist-events')
export class PersistEventsJob implements JobHandler<'persist-events'> {
  constructor(
    private readonly storage: StorageService,
    private readonly folder: RollupFolder,
  ) {}

  async handle({ events }: JobPayloads['persist-events']): Promise<PersistOutcome> {
    const outcome = await this.storage.persist(events);
    if (outcome.inserted) this.folder.kick(); // fold what was just stored, while it is fresh
    return outcome;
  }
}
