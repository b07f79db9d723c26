import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AuthenticatedApi } from '../../common/api-docs';
import { Queue } from 'bullmq';
import { JobPayloads, QueueName } from '../contracts/jobs';
import { ProblemException } from '../../common/problem';
import { CurrentPrincipal, RequireScope } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { QuarantineRepository, QuarantineRow } from './quarantine.repository';

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
    summary: 'Quarantined events of this tenant, oldest first, with their errors (admin)',
    description:
      'A tenant in quarantine mode (`npm run cli -- tenant:update --validation-mode quarantine`) keeps events that fail their content schema here instead of rejecting them.',
  })
  @ApiQuery({ name: 'limit', required: false, example: 50 })
  @ApiResponse({
    status: 200,
    schema: {
      example: {
        pending: 1,
        events: [
          {
            event_id: '…',
            event_name: 'acme.quote_requested',
            quarantined_at: '2025-01-15T10:30:00.000Z',
            errors: [
              {
                pointer: '/attributes/quote.value',
                keyword: 'type',
                message: '/attributes/quote.value must be a number',
                schema: 'acme.quote_requested/1-0-0',
              },
            ],
            event: {},
          },
        ],
      },
    },
  })
  async list(
    @CurrentPrincipal() p: Principal,
    @Query('limit') limit?: string,
  ): Promise<{ pending: number; events: QuarantineRow[] }> {
    const n = limit === undefined ? 50 : Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 500)
      throw new ProblemException(400, 'invalid-query', 'Invalid query', 'limit must be an integer from 1 to 500.');
    const [pending, events] = await Promise.all([
      this.quarantine.countPending(p.tenantId),
      this.quarantine.pending(p.tenantId, n),
    ]);
    return { pending, events };
  }

  @Post('replay')
  @HttpCode(202)
  @ApiOperation({
    summary: "Run this tenant's quarantined events through its current schemas (admin)",
    description:
      'Events that now pass are stored (exactly once, however often a replay runs) and leave the quarantine; the rest stay with their new errors.',
  })
  @ApiResponse({
    status: 202,
    schema: { example: { replay_id: '42', status_url: '/api/v1/analytics/quarantine/replays/42' } },
  })
  async replay(@CurrentPrincipal() p: Principal): Promise<{ replay_id: string; status_url: string }> {
    const job = await this.queue.add('replay-quarantine', { tenantId: p.tenantId });
    return { replay_id: job.id!, status_url: `/api/v1/analytics/quarantine/replays/${job.id}` };
  }

  @Get('replays/:id')
  @ApiOperation({ summary: 'The state and outcome of a replay (admin)' })
  @ApiResponse({
    status: 200,
    schema: { example: { replay_id: '42', state: 'completed', result: { replayed: 1, stored: 1, still_invalid: 0 } } },
  })
  @ApiResponse({ status: 404, description: 'No such replay for this tenant' })
  async replayStatus(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
  ): Promise<{ replay_id: string; state: string; result: unknown; failed_reason?: string }> {
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
      result: job.returnvalue ?? null,
      ...(job.failedReason ? { failed_reason: job.failedReason } : {}),
    };
  }
}
