import { isUuid } from '../../common/validation';
import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { ApiBody, ApiOperation, ApiProduces, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AuthenticatedApi } from '../../common/api-docs';
import { Queue } from 'bullmq';
import type { Response } from 'express';
import { QueueName } from '../contracts/jobs';
import { AnalyticsConfig } from '../config/analytics-config';
import { ProblemException } from '../../common/problem';
import { CurrentPrincipal, RequireScope } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { SubjectDataService } from './subject-data.service';
import { ErasureRepository, ErasureRequest } from './erasure.repository';
import { PrivacyService } from './privacy.service';

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

  /** The subject the caller names, as sent; PrivacyService derives the forms it may be stored in. */
  private subject(
    p: Principal,
    q: { user_id?: unknown; session_id?: unknown },
  ): { type: 'user' | 'session'; value: string } {
    const hasUser = typeof q.user_id === 'string' && q.user_id.length > 0;
    const hasSession = typeof q.session_id === 'string' && q.session_id.length > 0;
    if (hasUser === hasSession) throw invalid('Name exactly one subject: user_id or session_id.');
    if (hasUser) {
      if ((q.user_id as string).length > 256) throw invalid('user_id is longer than 256 characters.');
      return { type: 'user', value: q.user_id as string };
    }
    if (!isUuid(q.session_id)) throw invalid('session_id must be a UUID.');
    return { type: 'session', value: q.session_id.toLowerCase() };
  }

  @Post('erasure')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Erase every stored event of a user or session (admin)',
    description:
      'Answers at once; a job deletes the rows. Events of the subject still queued at the time of the request are never stored. Rollups are anonymous aggregates and are not changed. The audit log records when, which tenant and how many rows, never the subject.',
  })
  @ApiBody({ schema: { example: { user_id: 'u_4821' } } })
  @ApiResponse({
    status: 202,
    schema: {
      example: { request_id: '6f1c…', status: 'pending', status_url: '/api/v1/analytics/subjects/erasure/6f1c…' },
    },
  })
  @ApiResponse({ status: 400, description: 'Neither or both of user_id and session_id' })
  @ApiResponse({
    status: 429,
    description:
      'The tenant already has ANALYTICS_ERASURE_MAX_PENDING (20) erasures pending; Retry-After says when to retry',
  })
  async erase(
    @CurrentPrincipal() p: Principal,
    @Body() body: unknown,
  ): Promise<{ request_id: string; status: string; status_url: string }> {
    const s = this.subject(p, body ?? {});
    const max = this.config.privacy.erasureMaxPending;
    const keys = this.privacy.erasureKeys(s.type, s.value, p.privacy);
    const request = await this.erasures.create(p.tenantId, s.type, keys, max);
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
  @ApiOperation({ summary: 'The status of an erasure request and how many rows it deleted (admin)' })
  @ApiResponse({
    status: 200,
    schema: {
      example: {
        id: '6f1c…',
        subject_type: 'user',
        status: 'completed',
        requested_at: '2025-01-15T10:30:00.000Z',
        completed_at: '2025-01-15T10:30:01.200Z',
        rows_deleted: 42,
      },
    },
  })
  @ApiResponse({ status: 404, description: 'No such request for this tenant' })
  async status(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<Omit<ErasureRequest, 'tenant_id'>> {
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
  @ApiOperation({ summary: 'Every stored event of a user or session, as NDJSON (admin)' })
  @ApiQuery({
    name: 'user_id',
    required: false,
    description: 'The original user id (pseudonymized here when the tenant pseudonymizes)',
  })
  @ApiQuery({ name: 'session_id', required: false })
  @ApiProduces('application/x-ndjson')
  @ApiResponse({ status: 200, description: 'One stored event per line, oldest first' })
  async export(
    @CurrentPrincipal() p: Principal,
    @Query() query: Record<string, unknown>,
    @Res() res: Response,
  ): Promise<void> {
    const s = this.subject(p, query);
    res.status(200).type('application/x-ndjson');
    res.setHeader('Content-Disposition', 'attachment; filename="subject-export.ndjson"');
    const stored = this.privacy.storedIds(s.type, s.value, p.privacy);
    for await (const page of this.subjects.export(p.tenantId, s.type, stored)) {
      if (!res.write(page.map((row) => JSON.stringify(row)).join('\n') + '\n'))
        await new Promise((r) => res.once('drain', r));
    }
    res.end();
  }
}
