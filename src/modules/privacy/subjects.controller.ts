import { isUuid } from '../../common/validation';
import { createHash } from 'node:crypto';
import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { ApiBody, ApiOperation, ApiParam, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiProblem, AuthenticatedApi, JsonBodyProblems } from '../../common/api-docs';
import { Queue } from 'bullmq';
import type { Response } from 'express';
import { QueueName } from '../contracts/jobs';
import { AnalyticsConfig } from '../config/analytics-config';
import { ProblemException } from '../../common/problem';
import { CurrentPrincipal, RequireScope } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { SubjectDataService } from './subject-data.service';
import { ErasureRepository } from './erasure.repository';
import { PrivacyService } from './privacy.service';
import { ErasureAcceptedDto, ErasureStatusDto, SubjectDto } from './dto/subject.dto';

const invalid = (detail: string) => new ProblemException(400, 'invalid-subject', 'Invalid subject', detail);
/** Retry-After of an erasure refused by the quota: about how long a pending erasure takes. */
const ERASURE_RETRY_S = 5;

@ApiTags('privacy')
@AuthenticatedApi('Not an admin credential')
@RequireScope('admin')
@Controller('api/v1/analytics/subjects')
export class SubjectsController {
  constructor(
    private readonly erasures: ErasureRepository,
    private readonly privacy: PrivacyService,
    private readonly subjects: SubjectDataService,
    @InjectQueue(QueueName.Maintenance) private readonly maintenance: Queue,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
  ) {}

  /** The subject as stored: pseudonymized user ids are derived from the original the caller names. */
  private subject(p: Principal, q: SubjectDto): { type: 'user' | 'session'; value: string } {
    if ((q.user_id === undefined) === (q.session_id === undefined))
      throw invalid('Name exactly one subject: user_id or session_id.');
    if (q.user_id !== undefined) return { type: 'user', value: this.privacy.storedUserId(q.user_id, p.privacy) };
    return { type: 'session', value: q.session_id!.toLowerCase() };
  }

  @Post('erasure')
  @HttpCode(202)
  @ApiOperation({
    operationId: 'requestErasure',
    summary: 'Erase every stored event of a user or session (admin)',
    description:
      'Answers at once; a job deletes the rows. Events of the subject still queued at the time of the request are never stored. Rollups are anonymous aggregates and are not changed. The audit log records when, which tenant and how many rows, never the subject.',
  })
  @ApiBody({ type: SubjectDto, examples: { user: { value: { user_id: 'u_4821' } } } })
  @ApiResponse({ status: 202, type: ErasureAcceptedDto })
  @ApiProblem(400, 'Neither or both of user_id and session_id, or one of them malformed')
  @JsonBodyProblems()
  @ApiProblem(
    429,
    'The tenant already has ANALYTICS_ERASURE_MAX_PENDING (20) erasures pending (Retry-After says when to retry), or the request rate limit is reached',
  )
  async erase(@CurrentPrincipal() p: Principal, @Body() body: SubjectDto): Promise<ErasureAcceptedDto> {
    const s = this.subject(p, body);
    const max = this.config.privacy.erasureMaxPending;
    const request = await this.erasures.create(p.tenantId, s.type, createHash('sha256').update(s.value).digest(), max);
    if (!request) {
      throw new ProblemException(
        429,
        'erasure-quota',
        'Too many erasures in flight',
        `This tenant already has ${max} erasure requests pending (ANALYTICS_ERASURE_MAX_PENDING); this one was not recorded. Retry after ${ERASURE_RETRY_S} s, once some have completed.`,
        { quota: 'erasures_pending', limit: max },
        { 'Retry-After': String(ERASURE_RETRY_S) },
      );
    }
    await this.maintenance.add(
      'erase-subject',
      { erasureId: request.id },
      { attempts: 10, backoff: { type: 'exponential', delay: 1000 } },
    );
    return {
      request_id: request.id,
      status: request.status,
      status_url: `/api/v1/analytics/subjects/erasure/${request.id}`,
    };
  }

  @Get('erasure/:id')
  @ApiOperation({
    operationId: 'getErasure',
    summary: 'The status of an erasure request and how many rows it deleted (admin)',
    description:
      'pending until the erasure job has deleted every stored event of the subject; then completed, with rows_deleted.',
  })
  @ApiParam({ name: 'id', format: 'uuid', description: 'The request_id of the erasure' })
  @ApiResponse({ status: 200, type: ErasureStatusDto })
  @ApiProblem(404, 'No such request for this tenant')
  async status(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<ErasureStatusDto> {
    const found = isUuid(id) ? await this.erasures.find(p.tenantId, id) : null;
    if (!found)
      throw new ProblemException(
        404,
        'erasure-not-found',
        'Not found',
        `No erasure request ${id.slice(0, 40)} for this tenant.`,
      );
    const { tenant_id: _tenant, ...rest } = found;
    return rest;
  }

  @Get('export')
  @ApiOperation({
    operationId: 'exportSubject',
    summary: 'Every stored event of a user or session, as NDJSON (admin)',
    description:
      'Streams the stored rows of exactly one subject, one JSON object per line, oldest first; a user id is looked up as it was stored (pseudonymized or not).',
  })
  @ApiProduces('application/x-ndjson')
  @ApiResponse({
    status: 200,
    description: 'One stored event per line (a JSON object as GET would show it), oldest first',
    content: { 'application/x-ndjson': { schema: { type: 'string' } } },
  })
  @ApiProblem(400, 'Neither or both of user_id and session_id, or one of them malformed')
  async export(@CurrentPrincipal() p: Principal, @Query() query: SubjectDto, @Res() res: Response): Promise<void> {
    const s = this.subject(p, query);
    res.status(200).type('application/x-ndjson');
    res.setHeader('Content-Disposition', 'attachment; filename="subject-export.ndjson"');
    for await (const page of this.subjects.export(p.tenantId, s.type, s.value)) {
      if (!res.write(page.map((row) => JSON.stringify(row)).join('\n') + '\n'))
        await new Promise((r) => res.once('drain', r));
    }
    res.end();
  }
}
