import { applyDecorators, Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AuthenticatedApi } from '../../common/api-docs';
import { CurrentPrincipal, RequireScope } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { ProblemDto } from '../../common/dto/problem.dto';
import { FunnelAnswerDto, FunnelRequestDto } from './dto/funnel.dto';
import { FunnelAnswer, ReportingService, TimeseriesAnswer } from './reporting.service';

/** The answers every report may give past its limits: too many at once, or past the deadline. */
const ReportLimits = () =>
  applyDecorators(
    ApiResponse({
      status: 429,
      description:
        'The tenant (ANALYTICS_REPORT_TENANT_CONCURRENCY) or the instance (ANALYTICS_REPORT_CONCURRENCY) already runs its limit of reports; see Retry-After',
    }),
    ApiResponse({
      status: 504,
      description:
        'The report (its queries and the work after them) ran past ANALYTICS_REPORT_TIMEOUT_MS; a query is cancelled in Postgres',
    }),
  );

@ApiTags('reporting')
@AuthenticatedApi('No report scope, or another tenant named')
@RequireScope('report')
@Controller('api/v1/analytics/reports')
export class ReportingController {
  constructor(private readonly reporting: ReportingService) {}

  @Get('metrics')
  @ApiOperation({
    summary: 'The metric catalog: every metric, its aggregation, unit and definition (docs/metrics.md has the details)',
  })
  @ApiResponse({
    status: 200,
    schema: {
      example: [
        {
          name: 'voice.first_response_ms',
          aggregation: 'percentile',
          unit: 'ms',
          names: ['voice.first_response_ms.p50', 'voice.first_response_ms.p95'],
          listed: ['voice.first_response_ms.p50'],
        },
      ],
    },
  })
  metrics() {
    return this.reporting.catalog();
  }

  @Post('funnel')
  @HttpCode(200)
  @ApiOperation({
    summary: 'A conversion funnel of 2 to 10 steps',
    description:
      'Counted per unit: session_id (default), user_id or any attribute (attributes.gen_ai.conversation.id). Steps are event names or objects with any-of names, property filters and optional: true; exclusions break a chain between two steps; breakdown by up to two properties with an "other" group; per step the units, conversions, the exact median time and the time to convert (p50 to p99 by nearest rank from a sketch, within 1 %, and a histogram); conversion_over_time gives the funnel per hour or day of the first step. Times are compared to the microsecond. Definitions in docs/metrics.md.',
  })
  @ApiBody({ type: FunnelRequestDto })
  @ApiResponse({ status: 200, type: FunnelAnswerDto })
  @ApiResponse({
    status: 400,
    type: ProblemDto,
    description:
      'A field that makes no sense (errors[0].pointer names it): fewer than 2 or more than 10 steps, all optional or an optional first step, an unknown breakdown property, a window of 0, a bad filter or date; a range longer than ANALYTICS_FUNNEL_MAX_RANGE_DAYS; more than ANALYTICS_REPORT_MAX_EVENTS events to read, or more than ANALYTICS_FUNNEL_MAX_UNIT_EVENTS in one unit',
  })
  @ReportLimits()
  funnel(@Body() body: unknown, @CurrentPrincipal() p: Principal): Promise<FunnelAnswer> {
    return this.reporting.funnel(body, p);
  }

  @Post('summary')
  @HttpCode(200)
  @ApiOperation({
    summary: "Several metrics over one range in one call (a dashboard's first paint)",
    description:
      'Each metric as one value for the whole range, exactly: rollups merged (percentile sketches too), distinct rates over several buckets counted from raw events. The range is widened to whole days when from and to fall on midnight UTC, else to whole hours; from and to in the answer say what was covered.',
  })
  @ApiBody({
    schema: {
      example: {
        tenantId: '0b9d6f1e-5c1a-4a53-9f43-2c1e8a7d9b10',
        metrics: ['ai.tool_calls.count', 'ai.tool_calls.success_rate', 'voice.first_response_ms.p95'],
        from: '2025-01-15T00:00:00Z',
        to: '2025-01-16T00:00:00Z',
      },
    },
  })
  @ApiResponse({
    status: 200,
    schema: {
      example: {
        from: '2025-01-15T00:00:00.000Z',
        to: '2025-01-16T00:00:00.000Z',
        metrics: {
          'ai.tool_calls.count': { value: 1520, count: 1520 },
          'ai.tool_calls.success_rate': { value: 0.94, count: 1520 },
        },
        meta: { query_ms: 4.2 },
      },
    },
  })
  @ApiResponse({
    status: 400,
    description:
      'An unknown metric, a bad date, a range longer than ANALYTICS_REPORT_MAX_RANGE_DAYS, more than 30 metrics, or more than ANALYTICS_REPORT_MAX_EVENTS raw events to read',
  })
  @ApiResponse({
    status: 429,
    description:
      'The tenant (ANALYTICS_REPORT_TENANT_CONCURRENCY) or the instance (ANALYTICS_REPORT_CONCURRENCY) already runs its limit of reports; see Retry-After',
  })
  @ApiResponse({
    status: 504,
    description: 'The report (all its queries) ran past ANALYTICS_REPORT_TIMEOUT_MS; a query is cancelled in Postgres',
  })
  summary(@Body() body: unknown, @CurrentPrincipal() p: Principal) {
    return this.reporting.summary(body, p);
  }

  @Post('timeseries')
  @HttpCode(200)
  @ApiOperation({
    summary: 'A metric over time',
    description:
      'Buckets are aligned to the grain in UTC, and every bucket is present: counts and sums of an empty bucket are 0, averages, rates and percentiles null (meta.empty_value says which). Read from the coarsest rollup level that divides the grain; meta.level is "raw" when computed from raw events.',
  })
  @ApiBody({
    schema: {
      example: {
        tenantId: '0b9d6f1e-5c1a-4a53-9f43-2c1e8a7d9b10',
        metric: 'voice.first_response_ms.p95',
        from: '2025-01-15T00:00:00Z',
        to: '2025-01-15T23:59:59Z',
        grain: '1h',
      },
    },
  })
  @ApiResponse({
    status: 200,
    schema: {
      example: {
        metric: 'voice.first_response_ms.p95',
        grain: '1h',
        points: [{ t: '2025-01-15T00:00:00.000Z', value: 812.4, count: 340 }],
        meta: { level: 'h', buckets: 24, query_ms: 3.1, empty_value: null },
      },
    },
  })
  @ApiResponse({
    status: 400,
    description:
      'An unknown metric or grain, a bad date, more points than ANALYTICS_MAX_TIMESERIES_POINTS or a range longer than ANALYTICS_REPORT_MAX_RANGE_DAYS (refused before any query), more than ANALYTICS_REPORT_MAX_EVENTS raw events to read',
  })
  @ReportLimits()
  timeseries(@Body() body: unknown, @CurrentPrincipal() p: Principal): Promise<TimeseriesAnswer> {
    return this.reporting.timeseries(body, p);
  }
}
