import { Injectable } from '@nestjs/common';
import type { JobPayloads } from '../contracts/jobs';
import { HandlesJob, JobHandler } from '../jobs/job-handler';
import { QuarantineReplayService } from './quarantine-replay.service';

/** Runs a tenant's quarantined events through its current schemas. */
@Injectable()
@HandlesJob('replay-quarantine')
export class ReplayQuarantineJob implements JobHandler<'replay-quarantine'> {
  constructor(private readonly replays: QuarantineReplayService) {}

  handle({ tenantId }: JobPayloads['replay-quarantine']): ReturnType<QuarantineReplayService['replay']> {
    return this.replays.replay(tenantId);
  }
}
