import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiExtraModels,
  ApiOperation,
  ApiResponse,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import { ProblemDto } from '../../common/dto/problem.dto';
import { CarriesEvents, CurrentPrincipal, RequireScope } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { BatchDto, EventDto, EventVerdictDto, IngestSummaryDto } from './dto/event.dto';
import { IngestionService } from './ingestion.service';

const problem = (status: number, description: string) =>
  ApiResponse({
    status,
    description,
    content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/ProblemDto' } } },
  });

@ApiTags('ingestion')
@ApiBearerAuth()
@ApiSecurity('api-key')
@ApiExtraModels(ProblemDto)
@RequireScope('ingest')
@problem(401, 'No credential, or an unknown, malformed or revoked one')
@problem(403, "The credential lacks the ingest scope, or the Origin is not in the tenant's CORS allow-list")
@problem(429, "The tenant's requests/s or events/s limit is reached; see Retry-After and the RateLimit-* headers")
@Controller('api/v1/analytics/events')
export class IngestionController {
  constructor(private readonly ingestion: IngestionService) {}

  @Post()
  @CarriesEvents('single')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Ingest one event',
    description:
      "Needs an API key (or JWT) with the ingest scope; the event's tenant_id must be the key's tenant. Validates, deduplicates and queues one event. 202 means the event is in the queue and will be stored exactly once.",
  })
  @ApiBody({ type: EventDto })
  @ApiResponse({
    status: 202,
    type: EventVerdictDto,
    description: 'accepted, or duplicate when the event was already received',
  })
  @problem(400, 'The body is not valid JSON, or the event is invalid (errors lists every problem)')
  @problem(413, 'The body exceeds ANALYTICS_MAX_PAYLOAD_KB')
  @problem(415, 'The body is not JSON')
  @problem(
    503,
    'The queue or dedupe store is unavailable, or the backlog is over ANALYTICS_MAX_QUEUE_BACKLOG; nothing was stored, retry the same request after Retry-After',
  )
  ingestOne(@Body() body: unknown, @CurrentPrincipal() principal: Principal): Promise<EventVerdictDto> {
    return this.ingestion.ingestOne(body, principal);
  }

  @Post('batch')
  @CarriesEvents('batch')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Ingest a batch of events',
    description:
      'One verdict per event, in order: accepted, duplicate or rejected with its errors. Valid events are accepted even when others are rejected.',
  })
  @ApiBody({ type: BatchDto })
  @ApiResponse({ status: 202, type: IngestSummaryDto })
  @problem(400, 'The body is not valid JSON or not a batch object')
  @problem(413, 'More events than ANALYTICS_MAX_BATCH_SIZE, or a body larger than ANALYTICS_MAX_PAYLOAD_KB')
  @problem(415, 'The body is not JSON')
  @problem(
    503,
    'The queue or dedupe store is unavailable, or the backlog is over ANALYTICS_MAX_QUEUE_BACKLOG; nothing was stored, retry the same request after Retry-After',
  )
  ingestBatch(@Body() body: unknown, @CurrentPrincipal() principal: Principal): Promise<IngestSummaryDto> {
    return this.ingestion.ingestBatch(body, principal);
  }
}
