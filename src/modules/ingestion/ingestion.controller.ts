import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiProblem, AuthenticatedApi, JsonBodyProblems } from '../../common/api-docs';
import { CarriesEvents, CurrentPrincipal, RequireScope } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { BatchDto, EventDto, EventVerdictDto, IngestSummaryDto } from './dto/event.dto';
import { IngestionService } from './ingestion.service';

const Unavailable = () =>
  ApiProblem(
    503,
    'The queue or dedupe store is unavailable, or the backlog is over ANALYTICS_MAX_QUEUE_BACKLOG; nothing was stored, retry the same request after Retry-After',
  );

@ApiTags('ingestion')
@AuthenticatedApi(
  "The credential lacks the ingest scope, the event names another tenant, or the Origin is not in the tenant's CORS allow-list",
)
@RequireScope('ingest')
@Controller('api/v1/analytics/events')
export class IngestionController {
  constructor(private readonly ingestion: IngestionService) {}

  @Post()
  @CarriesEvents('single')
  @HttpCode(202)
  @ApiOperation({
    operationId: 'ingestEvent',
    summary: 'Ingest one event',
    description:
      "Needs an API key (or JWT) with the ingest scope; the event's tenant_id must be the key's tenant. Validates, deduplicates and queues one event. 202 means the event is in the queue and will be stored exactly once.",
  })
  @ApiBody({ type: EventDto })
  @ApiResponse({
    status: 202,
    type: EventVerdictDto,
    description:
      'accepted, duplicate when the event was already received, dropped when consent is withheld, quarantined when its tenant keeps invalid events for a replay',
  })
  @ApiProblem(400, 'The body is not valid JSON, or the event is invalid (errors lists every problem)')
  @JsonBodyProblems()
  @Unavailable()
  ingestOne(@Body() body: unknown, @CurrentPrincipal() principal: Principal): Promise<EventVerdictDto> {
    return this.ingestion.ingestOne(body, principal);
  }

  @Post('batch')
  @CarriesEvents('batch')
  @HttpCode(202)
  @ApiOperation({
    operationId: 'ingestBatch',
    summary: 'Ingest a batch of events',
    description:
      'One verdict per event, in order: accepted, duplicate, dropped, quarantined, or rejected with its errors. Valid events are accepted even when others are rejected.',
  })
  @ApiBody({ type: BatchDto })
  @ApiResponse({ status: 202, type: IngestSummaryDto })
  @ApiProblem(400, 'The body is not valid JSON or not a batch object')
  @JsonBodyProblems('More events than ANALYTICS_MAX_BATCH_SIZE, or a body larger than ANALYTICS_MAX_PAYLOAD_KB')
  @Unavailable()
  ingestBatch(@Body() body: unknown, @CurrentPrincipal() principal: Principal): Promise<IngestSummaryDto> {
    return this.ingestion.ingestBatch(body, principal);
  }
}
