import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiProblem, AuthenticatedApi } from '../../common/api-docs';
import { Queue } from 'bullmq';
import { JobPayloads, QueueName } from '../contracts/jobs';
import { ProblemException } from '../../common/problem';
import { CurrentPrincipal, RequireScope } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { QuarantineListDto, QuarantineQueryDto, ReplayAcceptedDto, ReplayStatusDto } from './dto/schema.dto';
import { QuarantineRepository } from './quarantine.repository';

@ApiTags('schemas')
@AuthenticatedApi('Not an admin credential')
@RequireScope('admin')
@Controller('api/v1/analytics/quarantine')
export class QuarantineController {
  constructor(
    private readonly quarantine: QuarantineRepository,
    @InjectQueue(QueueName.Ingest) private readonly queue: Queue,
  ) {}

  @Get()
  @ApiOperation({
    operationId: 'listQuarantine',
    summary: 'Quarantined events of this tenant, oldest first, with their errors (admin)',
    description:
      'A tenant in quarantine mode (`npm run cli -- tenant:update --validation-mode quarantine`) keeps events that fail their content schema here instead of rejecting them.',
  })
  @ApiResponse({ status: 200, type: QuarantineListDto })
  @ApiProblem(400, 'limit is not an integer from 1 to 500')
  async list(@CurrentPrincipal() p: Principal, @Query() query: QuarantineQueryDto): Promise<QuarantineListDto> {
    const n = query.limit ?? 50;
    const [pending, events] = await Promise.all([
      this.quarantine.countPending(p.tenantId),
      this.quarantine.pending(p.tenantId, n),
    ]);
    return { pending, events };
  }

  @Post('replay')
  @HttpCode(202)
  @ApiOperation({
    operationId: 'replayQuarantine',
    summary: "Run this tenant's quarantined events through its current schemas (admin)",
    description:
      'Events that now pass are stored (exactly once, however often a replay runs) and leave the quarantine; the rest stay with their new errors.',
  })
  @ApiResponse({ status: 202, type: ReplayAcceptedDto })
  async replay(@CurrentPrincipal() p: Principal): Promise<ReplayAcceptedDto> {
    const job = await this.queue.add('replay-quarantine', { tenantId: p.tenantId });
    return { replay_id: job.id!, status_url: `/api/v1/analytics/quarantine/replays/${job.id}` };
  }

  @Get('replays/:id')
  @ApiOperation({
    operationId: 'getReplay',
    summary: 'The state and outcome of a replay (admin)',
    description: 'The queue state of the replay job; result holds the counts once it has completed.',
  })
  @ApiParam({ name: 'id', description: 'The replay_id of the replay' })
  @ApiResponse({ status: 200, type: ReplayStatusDto })
  @ApiProblem(404, 'No such replay for this tenant')
  async replayStatus(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<ReplayStatusDto> {
    // The state first, then the job: read the other way round, a job finishing in between would
    // show as completed without its result.
    const state = /^\d{1,20}$/.test(id) ? await this.queue.getJobState(id) : 'unknown';
    const job = state === 'unknown' ? undefined : await this.queue.getJob(id);
    if (
      !job ||
      job.name !== 'replay-quarantine' ||
      (job.data as Partial<JobPayloads['replay-quarantine']> | undefined)?.tenantId !== p.tenantId
    ) {
      throw new ProblemException(404, 'replay-not-found', 'Not found', `No replay ${id.slice(0, 40)} for this tenant.`);
    }
    return {
      replay_id: id,
      state,
      result: (job.returnvalue as ReplayStatusDto['result']) ?? null,
      ...(job.failedReason ? { failed_reason: job.failedReason } : {}),
    };
  }
}
