import { applyDecorators, Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AuthenticatedApi } from '../../common/api-docs';
import { CurrentPrincipal, RequireScope } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { ReportingService, TimeseriesAnswer } from './reporting.service';

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
  @ApiResponse({
    status: 400,
    description:
      'Fewer than 2 or more than 10 steps, a bad date, a range longer than ANALYTICS_FUNNEL_MAX_RANGE_DAYS, a bad window, an unknown unit or order; more than ANALYTICS_REPORT_MAX_EVENTS events to read, or more than ANALYTICS_FUNNEL_MAX_UNIT_EVENTS in one unit',
  })
  @ReportLimits()
  funnel(@Body() body: unknown, @CurrentPrincipal() p: Principal) {
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
