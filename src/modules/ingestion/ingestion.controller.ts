import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBody, ApiExtraModels, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ProblemDto } from '../../common/dto/problem.dto';
import { BatchDto, EventDto, EventVerdictDto, IngestSummaryDto } from './dto/event.dto';
import { IngestionService } from './ingestion.service';

const problem = (status: number, description: string) =>
  ApiResponse({ status, description, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/ProblemDto' } } } });

@ApiTags('ingestion')
@ApiExtraModels(ProblemDto)
@Controller('api/v1/analytics/events')
export class IngestionController {
  constructor(private readonly ingestion: IngestionService) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({ summary: 'Ingest one event', description: 'Validates, deduplicates and queues one event. 202 means the event is in the queue and will be stored exactly once.' })
  @ApiBody({ type: EventDto })
  @ApiResponse({ status: 202, type: EventVerdictDto, description: 'accepted, or duplicate when the event was already received' })
  @problem(400, 'The body is not valid JSON, or the event is invalid (errors lists every problem)')
  @problem(413, 'The body exceeds ANALYTICS_MAX_PAYLOAD_KB')
  @problem(415, 'The body is not JSON')
  @problem(503, 'The queue or dedupe store is unavailable; nothing was stored, retry the same request')
  ingestOne(@Body() body: unknown): Promise<EventVerdictDto> {
    return this.ingestion.ingestOne(body);
  }

  @Post('batch')
  @HttpCode(202)
  @ApiOperation({ summary: 'Ingest a batch of events', description: 'One verdict per event, in order: accepted, duplicate or rejected with its errors. Valid events are accepted even when others are rejected.' })
  @ApiBody({ type: BatchDto })
  @ApiResponse({ status: 202, type: IngestSummaryDto })
  @problem(400, 'The body is not valid JSON or not a batch object')
  @problem(413, 'More events than ANALYTICS_MAX_BATCH_SIZE, or a body larger than ANALYTICS_MAX_PAYLOAD_KB')
  @problem(415, 'The body is not JSON')
  @problem(503, 'The queue or dedupe store is unavailable; nothing was stored, retry the same request')
  ingestBatch(@Body() body: unknown): Promise<IngestSummaryDto> {
    return this.ingestion.ingestBatch(body);
  }
}
