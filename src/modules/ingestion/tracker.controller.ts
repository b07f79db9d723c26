import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ApiProblem, AuthenticatedApi, JsonBodyProblems } from '../../common/api-docs';
import { Clock } from '../../common/clock';
import { ProblemException } from '../../common/problem';
import { Public } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { RequestAuthorizer } from '../auth/request-authorizer';
import { EventVerdict, IngestSummary, summarize } from './event-verdict';
import { IngestionService } from './ingestion.service';
import { IngestSummaryDto, TrackerPayloadDto } from './dto/event.dto';
import { payloadData, translateTrackerEvent } from './tracker-protocol';

export const TRACKER_CLOCK = Symbol('TrackerClock');
export const TP2_PATH = 'com.snowplowanalytics.snowplow/tp2';
/** A transparent 1×1 GIF: what a GET to /i answers, as Snowplow collectors do. */
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

const Unavailable = () =>
  ApiProblem(
    503,
    'The queue or dedupe store is unavailable, or the backlog is too long; nothing was stored, and the tracker sends the events again',
  );
const KeyParam = () =>
  ApiParam({ name: 'key', description: 'An API key with the ingest scope, for trackers that cannot send headers' });

/**
 * The Snowplow tracker protocol (GET /i, POST /com.snowplowanalytics.snowplow/tp2), for unchanged
 * Snowplow trackers. The key comes as a header (Authorization: Bearer, X-Analytics-Key; a tracker's
 * customHeaders) or in a tenant-scoped collector path (/t/<key>/…). Each tracker event is
 * translated into an envelope (tracker-protocol.ts) and the batch goes through IngestionService.
 * As trackers expect, a batch it could read is answered 200 (an event that fails validation will
 * not pass on a resend, so it is reported in the answer, not refused with the batch); a GET gets a
 * pixel. A tracker resends on 429 and 503, and the event ids make its resends duplicates.
 */
@ApiTags('snowplow')
@AuthenticatedApi('The credential lacks the ingest scope, or the Origin is not in the CORS allow-list')
@Public() // the key may be in the path: each handler authorizes with the RequestAuthorizer itself
@Controller()
export class TrackerController {
  constructor(
    private readonly ingestion: IngestionService,
    private readonly authorizer: RequestAuthorizer,
    @Inject(TRACKER_CLOCK) private readonly clock: Clock,
  ) {}

  @Post(TP2_PATH)
  @HttpCode(200)
  @ApiOperation({
    operationId: 'trackerPost',
    summary: 'Snowplow tracker protocol: a POST batch (key in a header)',
    description:
      'A payload_data self-describing JSON from a Snowplow tracker. 200 with a verdict per tracker event (see docs/snowplow.md for the mapping).',
  })
  @ApiBody({ type: TrackerPayloadDto })
  @ApiResponse({ status: 200, type: IngestSummaryDto })
  @ApiProblem(400, 'The body is not a payload_data JSON with a non-empty data array')
  @JsonBodyProblems()
  @Unavailable()
  post(@Body() body: unknown, @Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<IngestSummary> {
    return this.batch(body, req, res, null);
  }

  @Post(`t/:key/${TP2_PATH}`)
  @HttpCode(200)
  @KeyParam()
  @ApiOperation({
    operationId: 'trackerPostKeyed',
    summary: 'Snowplow tracker protocol: a POST batch to a tenant-scoped collector path',
    description: 'As POST /com.snowplowanalytics.snowplow/tp2, with the ingest key in the path.',
  })
  @ApiBody({ type: TrackerPayloadDto })
  @ApiResponse({ status: 200, type: IngestSummaryDto })
  @ApiProblem(400, 'The body is not a payload_data JSON with a non-empty data array')
  @JsonBodyProblems()
  @Unavailable()
  postKeyed(
    @Param('key') key: string,
    @Body() body: unknown,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<IngestSummary> {
    return this.batch(body, req, res, key);
  }

  @Get('i')
  @ApiOperation({
    operationId: 'trackerGet',
    summary: 'Snowplow tracker protocol: one event as a GET query (key in a header)',
    description: 'The tracker fields as query parameters; answered with a 1×1 GIF.',
  })
  @ApiResponse({
    status: 200,
    description: 'A 1×1 GIF; the verdict is in the Analytics-Verdict header',
    content: { 'image/gif': { schema: { type: 'string', format: 'binary' } } },
  })
  @Unavailable()
  get(@Query() query: Record<string, unknown>, @Req() req: Request, @Res() res: Response): Promise<void> {
    return this.pixel(query, req, res, null);
  }

  @Get('t/:key/i')
  @KeyParam()
  @ApiOperation({
    operationId: 'trackerGetKeyed',
    summary: 'Snowplow tracker protocol: one event as a GET query to a tenant-scoped collector path',
    description: 'As GET /i, with the ingest key in the path.',
  })
  @ApiResponse({
    status: 200,
    description: 'A 1×1 GIF; the verdict is in the Analytics-Verdict header',
    content: { 'image/gif': { schema: { type: 'string', format: 'binary' } } },
  })
  @Unavailable()
  getKeyed(
    @Param('key') key: string,
    @Query() query: Record<string, unknown>,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    return this.pixel(query, req, res, key);
  }

  private async batch(body: unknown, req: Request, res: Response, key: string | null): Promise<IngestSummary> {
    const read = payloadData(body);
    const principal = await this.admit(req, res, key, 'error' in read ? 0 : read.events.length);
    if ('error' in read)
      throw new ProblemException(400, 'invalid-tracker-payload', 'Invalid tracker payload', read.error);
    return this.ingest(read.events, '/data', req, principal);
  }

  private async pixel(query: Record<string, unknown>, req: Request, res: Response, key: string | null): Promise<void> {
    const principal = await this.admit(req, res, key, 1);
    const summary = await this.ingest([query], '', req, principal);
    const [verdict] = summary.results;
    res.setHeader('Analytics-Verdict', verdict.status);
    res.setHeader('Content-Type', 'image/gif');
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).end(PIXEL);
  }

  /** Credential (header or path), scope, CORS origin and rate limits, as every ingestion request. */
  private async admit(req: Request, res: Response, key: string | null, events: number): Promise<Principal> {
    const headers = key === null ? req.headers : { ...req.headers, authorization: undefined, 'x-analytics-key': key };
    const principal = await this.authorizer.authorize(
      { headers, protocol: req.protocol, socket: req.socket },
      'ingest',
      events,
      (k, v) => res.setHeader(k, v),
    );
    (req as Request & { principal?: Principal }).principal = principal;
    return principal;
  }

  /** Translates each tracker event and ingests the envelopes as one batch; verdicts in the tracker's order. */
  private async ingest(raw: unknown[], at: string, req: Request, principal: Principal): Promise<IngestSummary> {
    const now = new Date(this.clock.now());
    const ua = req.headers['user-agent'];
    const results: (EventVerdict | null)[] = [];
    const envelopes: { index: number; event: Record<string, unknown> }[] = [];
    raw.forEach((r, index) => {
      const t = translateTrackerEvent(r, at ? `${at}/${index}` : '', principal.tenantId, now, ua);
      if ('event' in t) {
        envelopes.push({ index, event: t.event });
        results.push(null);
      } else
        results.push({
          index,
          event_id: t.untranslatable.event_id,
          status: 'rejected',
          errors: t.untranslatable.errors,
        });
    });
    if (envelopes.length) {
      const summary = await this.ingestion.ingestBatch({ events: envelopes.map((e) => e.event) }, principal);
      summary.results.forEach((v, i) => (results[envelopes[i].index] = { ...v, index: envelopes[i].index }));
    }
    return summarize(results as EventVerdict[]);
  }
}
