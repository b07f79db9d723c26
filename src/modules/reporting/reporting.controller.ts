import { applyDecorators, Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiProblem, AuthenticatedApi, JsonBodyProblems } from '../../common/api-docs';
import { CurrentPrincipal, RequireScope } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import {
  MetricDefinitionDto,
  SummaryAnswerDto,
  SummaryQueryDto,
  TimeseriesAnswerDto,
  TimeseriesQueryDto,
} from './dto/report.dto';
import { ReportingService } from './reporting.service';

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
      'Counted per session (or user): the units that reached each step within the conversion window from the first step (window_seconds, default 3600), conversion from the first and from the previous step, and the median time from the previous step. order "ordered" (default) allows other events between steps; "strict" allows none. Edge cases are defined in docs/metrics.md.',
  })
  @ApiBody({
    schema: {
      example: {
        tenantId: '0b9d6f1e-5c1a-4a53-9f43-2c1e8a7d9b10',
        steps: ['commerce.view', 'commerce.add_to_cart', 'commerce.checkout'],
        from: '2025-01-15T00:00:00Z',
        to: '2025-01-15T23:59:59Z',
      },
    },
  })
  @ApiResponse({
    status: 200,
    schema: {
      example: {
        steps: [
          {
            step: 1,
            event: 'commerce.view',
            units: 1200,
            conversion_from_first: 1,
            conversion_from_previous: 1,
            median_ms_from_previous: null,
          },
          {
            step: 2,
            event: 'commerce.add_to_cart',
            units: 300,
            conversion_from_first: 0.25,
            conversion_from_previous: 0.25,
            median_ms_from_previous: 42000,
          },
        ],
        meta: { units: 1200, window_seconds: 3600, unit: 'session_id', order: 'ordered', query_ms: 38.2 },
      },
    },
  })
  @ApiProblem(
    400,
    'Fewer than 2 or more than 10 steps, a bad date, a range longer than ANALYTICS_FUNNEL_MAX_RANGE_DAYS, a bad window, an unknown unit or order; more than ANALYTICS_REPORT_MAX_EVENTS events to read, or more than ANALYTICS_FUNNEL_MAX_UNIT_EVENTS in one unit',
  )
  @ReportLimits()
  funnel(@Body() body: unknown, @CurrentPrincipal() p: Principal) {
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
