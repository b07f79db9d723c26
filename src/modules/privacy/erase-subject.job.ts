import { Injectable } from '@nestjs/common';
import type { JobPayloads } from '../contracts/jobs';
import { HandlesJob, JobHandler } from '../jobs/job-handler';
import { SubjectDataService } from './subject-data.service';

/** Carries out one erasure request. */
@Injectable()
@HandlesJob('erase-subject')
export class EraseSubjectJob implements JobHandler<'erase-subject'> {
  constructor(private readonly subjects: SubjectDataService) {}

  handle({ erasureId }: JobPayloads['erase-subject']): ReturnType<SubjectDataService['erase']> {
    return this.subjects.erase(erasureId);
  }
}
