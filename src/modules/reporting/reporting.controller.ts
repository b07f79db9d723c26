import { applyDecorators, Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiProblem, AuthenticatedApi, JsonBodyProblems } from '../../common/api-docs';
import { CurrentPrincipal, RequireScope } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { FunnelAnswerDto, FunnelRequestDto } from './dto/funnel.dto';
import {
  MetricDefinitionDto,
  SummaryAnswerDto,
  SummaryQueryDto,
  TimeseriesAnswerDto,
  TimeseriesQueryDto,
} from './dto/report.dto';
import { WaterfallAnswerDto, WaterfallQueryDto } from './dto/waterfall.dto';
import { CostAnswerDto, CostQueryDto } from './dto/cost.dto';
import { ConversationAnswerDto, ConversationParamsDto, ConversationQueryDto } from './dto/conversation.dto';
import { FunnelAnswer, ReportingService } from './reporting.service';

/**
 * The answers every report over events may give besides its own 400: an unknown tenant, too many
 * reports at once, no database connection in time, or past the deadline.
 */
const ReportLimits = () =>
  applyDecorators(
    JsonBodyProblems(),
    ApiProblem(404, 'No such tenant (an operator naming a tenant that does not exist)'),
    ApiProblem(
      429,
      'The tenant (ANALYTICS_REPORT_TENANT_CONCURRENCY) or the instance (ANALYTICS_REPORT_CONCURRENCY) already runs its limit of reports, or the request rate limit is reached; see Retry-After',
    ),
    ApiProblem(503, 'No database connection was free in time; retry after Retry-After'),
    ApiProblem(
      504,
      'The report (its queries and the work after them) ran past ANALYTICS_REPORT_TIMEOUT_MS; a query is cancelled in Postgres',
    ),
  );

@ApiTags('reporting')
@AuthenticatedApi('No report scope, or another tenant named')
@RequireScope('report')
@Controller('api/v1/analytics/reports')
export class ReportingController {
  constructor(private readonly reporting: ReportingService) {}

  @Get('metrics')
  @ApiOperation({
    operationId: 'listMetrics',
    summary: 'The metric catalog: every metric, its aggregation, unit and definition',
    description:
      'The names timeseries and summary take; a percentile metric offers one name per quantile. docs/metrics.md defines each.',
  })
  @ApiResponse({ status: 200, type: [MetricDefinitionDto] })
  metrics(): MetricDefinitionDto[] {
    return this.reporting.catalog();
  }

  @Post('funnel')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'getFunnel',
    summary: 'A conversion funnel of 2 to 10 steps',
    description:
      'Counted per unit: session_id (default), user_id or any attribute (attributes.gen_ai.conversation.id). Steps are event names or objects with any-of names, property filters and optional: true; exclusions break a chain between two steps; breakdown by up to two properties with an "other" group; per step the units, conversions, the exact median time and the time to convert (p50 to p99 by nearest rank from a sketch, within 1 %, and a histogram); conversion_over_time gives the funnel per hour or day of the first step. Times are compared to the microsecond. Definitions in docs/metrics.md.',
  })
  @ApiBody({ type: FunnelRequestDto })
  @ApiResponse({ status: 200, type: FunnelAnswerDto })
  @ApiProblem(
    400,
    'A field that makes no sense (errors[0].pointer names it): fewer than 2 or more than 10 steps, all optional or an optional first step, an unknown breakdown property, a window of 0, a bad filter or date; a range longer than ANALYTICS_FUNNEL_MAX_RANGE_DAYS; more than ANALYTICS_REPORT_MAX_EVENTS events to read, or more than ANALYTICS_FUNNEL_MAX_UNIT_EVENTS in one unit',
  )
  @ReportLimits()
  funnel(@Body() body: FunnelRequestDto, @CurrentPrincipal() p: Principal): Promise<FunnelAnswer> {
    return this.reporting.funnel(body, p);
  }

  @Post('summary')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'getSummary',
    summary: "Several metrics over one range in one call (a dashboard's first paint)",
    description:
      'Each metric as one value for the whole range, exactly: rollups merged (percentile sketches too), distinct rates over several buckets counted from raw events. The range is widened to whole days when from and to fall on midnight UTC, else to whole hours; from and to in the answer say what was covered.',
  })
  @ApiBody({ type: SummaryQueryDto })
  @ApiResponse({ status: 200, type: SummaryAnswerDto })
  @ApiProblem(
    400,
    'An unknown metric, a bad date, a range longer than ANALYTICS_REPORT_MAX_RANGE_DAYS, more than 30 metrics, or more than ANALYTICS_REPORT_MAX_EVENTS raw events to read; errors points at each field',
  )
  @ReportLimits()
  summary(@Body() body: SummaryQueryDto, @CurrentPrincipal() p: Principal): Promise<SummaryAnswerDto> {
    return this.reporting.summary(body, p);
  }

  @Get('conversations/:id')
  @ApiOperation({
    operationId: 'getConversation',
    summary: 'One conversation: its turns in order with stage timings, outcomes, tool calls, tokens and cost',
    description:
      'Built from the stored (sanitized) events naming the conversation in gen_ai.conversation.id within [from, to): voice.turn_completed, ai.llm_call_completed and ai.tool_call_completed, grouped by voice.turn_id; only their timing, outcome, model, tool and usage attributes are answered, never transcripts or free text. Cost per turn from the priced usage lines.',
  })
  @ApiParam({ name: 'id', description: 'The gen_ai.conversation.id', example: 'conv-7' })
  @ApiResponse({ status: 200, type: ConversationAnswerDto })
  @ApiProblem(
    400,
    'A bad date or tenant, a range longer than ANALYTICS_REPORT_MAX_RANGE_DAYS, or more than ANALYTICS_REPORT_MAX_EVENTS events',
  )
  @ApiProblem(404, 'No such tenant (an operator naming a tenant that does not exist)')
  @ApiProblem(429, 'Too many reports at once, or the request rate limit; see Retry-After')
  @ApiProblem(503, 'No database connection was free in time; retry after Retry-After')
  @ApiProblem(504, 'The report ran past ANALYTICS_REPORT_TIMEOUT_MS')
  conversation(
    @Param() params: ConversationParamsDto,
    @Query() query: ConversationQueryDto,
    @CurrentPrincipal() p: Principal,
  ): Promise<ConversationAnswerDto> {
    return this.reporting.conversation(params.id, query, p);
  }

  @Post('cost')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'getCost',
    summary: 'Exact usage cost of a range: total, per model, provider, unit, conversation or turn',
    description:
      "From the usage lines (LLM tokens by kind, STT seconds, TTS characters, tool calls), each priced under the tenant's price book valid at its event's time. Money is exact: amount a decimal string, micros integer micro-units. Usage without a price is listed in missing, never counted as 0. The range is exact to the microsecond (no widening).",
  })
  @ApiBody({ type: CostQueryDto })
  @ApiResponse({ status: 200, type: CostAnswerDto })
  @ApiProblem(
    400,
    'A bad date, group or tenant, or a range longer than ANALYTICS_REPORT_MAX_RANGE_DAYS; errors points at each field',
  )
  @ReportLimits()
  cost(@Body() body: CostQueryDto, @CurrentPrincipal() p: Principal): Promise<CostAnswerDto> {
    return this.reporting.cost(body, p);
  }

  @Post('waterfall')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'getWaterfall',
    summary: "The turn-latency waterfall: where a voice turn's time goes",
    description:
      'For the range and filters, each stage of voice.turn_completed (endpointing, final transcript, model time to first token, tools, speech-synthesis time to first byte, playout, end to end) with its p50, p95 and p99 (nearest rank from the merged sketches, within 1 %), its exact mean and its share of the end-to-end mean. A stage no turn reported is absent, not zero. The range is widened to whole days or hours as for the summary. Definitions and clock origins in docs/metrics.md.',
  })
  @ApiBody({ type: WaterfallQueryDto })
  @ApiResponse({ status: 200, type: WaterfallAnswerDto })
  @ApiProblem(
    400,
    'A bad date or tenant, or a range longer than ANALYTICS_REPORT_MAX_RANGE_DAYS; errors points at each field',
  )
  @ReportLimits()
  waterfall(@Body() body: WaterfallQueryDto, @CurrentPrincipal() p: Principal): Promise<WaterfallAnswerDto> {
    return this.reporting.waterfall(body, p);
  }

  @Post('timeseries')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'getTimeseries',
    summary: 'A metric over time',
    description:
      'Buckets are aligned to the grain in UTC, and every bucket is present: counts and sums of an empty bucket are 0, averages, rates and percentiles null (meta.empty_value says which). Read from the coarsest rollup level that divides the grain; meta.level is "raw" when computed from raw events.',
  })
  @ApiBody({ type: TimeseriesQueryDto })
  @ApiResponse({ status: 200, type: TimeseriesAnswerDto })
  @ApiProblem(
    400,
    'An unknown metric or grain, a bad date, more points than ANALYTICS_MAX_TIMESERIES_POINTS or a range longer than ANALYTICS_REPORT_MAX_RANGE_DAYS (refused before any query), more than ANALYTICS_REPORT_MAX_EVENTS raw events to read; errors points at each field',
  )
  @ReportLimits()
  timeseries(@Body() body: TimeseriesQueryDto, @CurrentPrincipal() p: Principal): Promise<TimeseriesAnswerDto> {
    return this.reporting.timeseries(body, p);
  }
}
