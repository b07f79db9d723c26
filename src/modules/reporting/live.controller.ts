import { Controller, Get, HttpCode, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiQuery, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ApiProblem, AuthenticatedApi } from '../../common/api-docs';
import { CurrentPrincipal, Public, RequireScope } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { RequestAuthorizer } from '../auth/request-authorizer';
import { LiveTokenDto } from './dto/live.dto';
import { LiveStream } from './live-stream.service';

const STREAM_DESCRIPTION = `Server-Sent Events. Each fold of the worker that stored events of the caller's tenant is one \`fold\` event, within a fold round (ANALYTICS_ROLLUP_FOLD_INTERVAL_MS, 200 ms) of the events being stored:

\`\`\`
id: 1733054400123-0
event: fold
data: {"folded_at":"2026-12-01T12:00:00.123Z","events":12,"buckets":[{"metric":"voice.first_response_ms","bucket":"2026-12-01T12:00:00.000Z","site_id":"*","source":"*","count":12,"num":0,"sum":5301.5,"min":288,"max":912}]}
\`\`\`

\`events\` is how many of the tenant's events the fold stored; \`buckets\` are the minute buckets it changed, with what it added (count, num, sum, min, max; a percentile's new value is read from the timeseries report), filtered to \`metrics\` and to one site and source row (\`*\` = all). Comment lines (\`: heartbeat\`) come every ANALYTICS_LIVE_HEARTBEAT_MS. A reconnecting client sends \`Last-Event-ID\` (EventSource does) or \`last_event_id\` and gets what it missed first; if the history (ANALYTICS_LIVE_HISTORY messages per tenant) no longer holds it, a \`reset\` event comes first. A client whose unsent output passes ANALYTICS_LIVE_MAX_BUFFER_KB is disconnected. Authenticated with a stream token (\`token\`, from POST /reports/live/token, for EventSource, which cannot send headers) or a report key in Authorization.`;

@ApiTags('reporting')
@Controller('api/v1/analytics/reports/live')
export class LiveController {
  constructor(
    private readonly live: LiveStream,
    private readonly authorizer: RequestAuthorizer,
  ) {}

  @Post('token')
  @HttpCode(201)
  @RequireScope('report')
  @AuthenticatedApi('No report scope')
  @ApiOperation({
    operationId: 'createLiveToken',
    summary: 'A short-lived token that opens the live stream (for EventSource)',
    description:
      'EventSource cannot send an Authorization header, and a report key must not travel in a URL: this token can, for ANALYTICS_LIVE_TOKEN_TTL_S seconds, and only opens the stream of the caller’s tenant.',
  })
  @ApiResponse({ status: 201, type: LiveTokenDto })
  token(@CurrentPrincipal() principal: Principal): Promise<LiveTokenDto> {
    return this.live.issueToken(principal.tenantId);
  }

  @Get()
  @Public()
  @ApiOperation({
    operationId: 'streamLive',
    summary: 'Live stream of folded minute buckets (SSE)',
    description: STREAM_DESCRIPTION,
  })
  @ApiSecurity('live-token')
  @ApiBearerAuth()
  @ApiQuery({
    name: 'metrics',
    required: false,
    description: 'Comma-separated metric names (a quantile name selects its metric); all when absent',
    example: 'voice.first_response_ms.p95,ai.tool_calls.count',
  })
  @ApiQuery({ name: 'site_id', required: false, description: 'One site’s rows; all sites (`*`) when absent' })
  @ApiQuery({ name: 'source', required: false, description: 'One source’s rows; all sources (`*`) when absent' })
  @ApiQuery({
    name: 'last_event_id',
    required: false,
    description: 'Resume after this id (as the Last-Event-ID header)',
  })
  @ApiProduces('text/event-stream')
  @ApiResponse({
    status: 200,
    description: 'The stream',
    content: { 'text/event-stream': { schema: { type: 'string' } } },
  })
  @ApiProblem(400, 'An unknown metric, a site_id that is not a UUID, or a source over 64 characters')
  @ApiProblem(401, 'No token or key, or an unknown or expired token')
  @ApiProblem(403, 'A key without the report scope')
  @ApiProblem(429, "The tenant's request rate limit")
  async stream(@Req() req: Request, @Res() res: Response, @Query() query: Record<string, unknown>): Promise<void> {
    const filter = this.live.filterOf(query);
    const tenant =
      typeof query.token === 'string'
        ? await this.live.tenantOfToken(query.token)
        : (await this.authorizer.authorize(req, 'report', 0, (k, v) => res.setHeader(k, v))).tenantId;
    const header = req.headers['last-event-id'];
    const lastId =
      typeof header === 'string' ? header : typeof query.last_event_id === 'string' ? query.last_event_id : null;
    await this.live.open(res, tenant, filter, lastId);
  }
}
