import { ApiExtraModels, ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsOptional, IsString } from 'class-validator';
import { IsCanonicalUuid } from '../../../common/dto/validators';
import { InvalidAs } from '../../../common/dto-validation.pipe';
import { metricNames } from '../../rollups/metric-catalog';
import { EVENT_SOURCES } from '../../schema-registry/envelope.schema';
import { GRAINS } from '../timeseries-plan';
import { IsDateTimeWithZone } from './date-time';

const TENANT_EXAMPLE = '0b9d6f1e-5c1a-4a53-9f43-2c1e8a7d9b10';
const metricMessage = ({ value }: { value: unknown }) =>
  `metric must be one of the catalog (GET /api/v1/analytics/reports/metrics), e.g. ${metricNames().slice(0, 3).join(', ')}; got ${JSON.stringify(String(value).slice(0, 80))}`;

/** The fields every metric report shares: whose, when, and optionally one site or source. */
class ReportScopeDto {
  @ApiProperty({
    format: 'uuid',
    example: TENANT_EXAMPLE,
    description: "The tenant; the credential's own, or any for an operator",
  })
  @IsCanonicalUuid({ message: 'tenantId must be the tenant UUID' })
  tenantId!: string;

  @ApiProperty({
    format: 'date-time',
    example: '2025-01-15T00:00:00Z',
    description: 'Start, inclusive (RFC 3339 with a zone)',
  })
  @IsDateTimeWithZone()
  from!: string;

  @ApiProperty({ format: 'date-time', example: '2025-01-15T23:59:59Z', description: 'End, after from' })
  @IsDateTimeWithZone()
  to!: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Only events of this site' })
  @IsOptional()
  @IsCanonicalUuid({ message: 'site_id must be a UUID' })
  site_id?: string;

  @ApiPropertyOptional({ enum: EVENT_SOURCES, description: 'Only events of this source' })
  @IsOptional()
  @IsIn([...EVENT_SOURCES], { message: `source must be one of ${EVENT_SOURCES.join(', ')}` })
  source?: string;
}

@InvalidAs('invalid-report', 'Invalid report request', '{tenantId, metric, from, to, grain}')
export class TimeseriesQueryDto extends ReportScopeDto {
  @ApiProperty({
    example: 'voice.first_response_ms.p95',
    description: 'A metric of the catalog (GET /api/v1/analytics/reports/metrics)',
  })
  @IsString({ message: metricMessage })
  @IsIn(metricNames(), { message: metricMessage })
  metric!: string;

  @ApiProperty({ enum: Object.keys(GRAINS), example: '1h', description: 'Bucket size, aligned in UTC' })
  @IsIn(Object.keys(GRAINS), { message: `grain must be one of ${Object.keys(GRAINS).join(', ')}` })
  grain!: string;
}

@InvalidAs('invalid-report', 'Invalid report request', '{tenantId, metrics, from, to}')
export class SummaryQueryDto extends ReportScopeDto {
  @ApiProperty({
    type: [String],
    minItems: 1,
    maxItems: 30,
    example: ['ai.tool_calls.count', 'ai.tool_calls.success_rate', 'voice.first_response_ms.p95'],
    description: '1 to 30 metrics of the catalog',
  })
  @IsArray({ message: 'metrics must be a list of 1 to 30 metric names' })
  @ArrayMinSize(1, { message: 'metrics must be a list of 1 to 30 metric names' })
  @ArrayMaxSize(30, { message: 'metrics must be a list of 1 to 30 metric names' })
  @IsIn(metricNames(), { each: true, message: metricMessage })
  metrics!: string[];
}

export class MetricDefinitionDto {
  @ApiProperty({ example: 'voice.first_response_ms' }) name!: string;
  @ApiProperty({ enum: ['count', 'sum', 'avg', 'rate', 'distinct_rate', 'percentile'], example: 'percentile' })
  aggregation!: string;
  @ApiProperty({ example: 'ms', description: 'Unit of the values: ms, count, ratio, score…' }) unit!: string;
  @ApiProperty({ example: 'Time from the end of the user turn to the first agent audio' }) description!: string;
  @ApiProperty({
    type: [String],
    example: ['voice.first_response_ms.p50', 'voice.first_response_ms.p95'],
    description: 'The names a report may ask for (a percentile metric has one per quantile)',
  })
  names!: string[];
  @ApiPropertyOptional({
    type: [String],
    example: ['voice.first_response_ms.p50'],
    description: 'The quantiles shown by default in dashboards',
  })
  listed?: string[];
}

export class TimeseriesPointDto {
  @ApiProperty({ format: 'date-time', example: '2025-01-15T00:00:00.000Z', description: 'Start of the bucket' })
  t!: string;
  @ApiProperty({
    type: Number,
    nullable: true,
    example: 812.4,
    description: 'null for an empty bucket of an average, rate or percentile',
  })
  value!: number | null;
  @ApiProperty({ example: 340, description: 'Events (or units) the value is computed from' })
  count!: number;
}

export class ReportDebugStatementDto {
  @ApiProperty({ example: 'SELECT bucket, count, sum FROM analytics_rollup_hour WHERE tenant_id = $1 AND …' })
  sql!: string;
  @ApiPropertyOptional({ example: 0.4 }) planning_ms?: number;
  @ApiPropertyOptional({ example: 2.1 }) execution_ms?: number;
  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: "PostgreSQL's plan of the statement: EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)",
  })
  plan?: Record<string, unknown>;
  @ApiPropertyOptional({ description: 'Why the statement could not be explained' }) error?: string;
}

export class ReportDebugDto {
  @ApiProperty({ example: 3.4, description: 'Time the service spent on the report, before the plans' })
  total_ms!: number;
  @ApiProperty({ type: [ReportDebugStatementDto], description: 'Each statement the report ran, with its plan' })
  statements!: ReportDebugStatementDto[];
}

const DEBUG_META = {
  type: ReportDebugDto,
  description: 'Only in debug mode (ANALYTICS_DEBUG_MODE=true), and only to an admin key: the SQL and its plans',
};

export class TimeseriesMetaDto {
  @ApiProperty({ enum: ['m', 'h', 'd', 'raw'], example: 'h', description: 'The rollup level read, or raw events' })
  level!: 'm' | 'h' | 'd' | 'raw';
  @ApiProperty({ example: 24 }) buckets!: number;
  @ApiProperty({ example: 3.1, description: 'Time the service spent on the report' }) query_ms!: number;
  @ApiProperty({
    type: Number,
    nullable: true,
    example: 0,
    description: 'The value of an empty bucket: 0 for counts and sums, null otherwise',
  })
  empty_value!: 0 | null;
  @ApiPropertyOptional(DEBUG_META) debug?: ReportDebugDto;
}

export class TimeseriesAnswerDto {
  @ApiProperty({ example: 'voice.first_response_ms.p95' }) metric!: string;
  @ApiProperty({ example: '1h' }) grain!: string;
  @ApiProperty({ type: [TimeseriesPointDto], description: 'Every bucket of the range, oldest first' })
  points!: TimeseriesPointDto[];
  @ApiProperty({ type: TimeseriesMetaDto }) meta!: TimeseriesMetaDto;
}

export class SummaryValueDto {
  @ApiProperty({ type: Number, nullable: true, example: 0.94 }) value!: number | null;
  @ApiProperty({ example: 1520 }) count!: number;
}

export class QueryTimeDto {
  @ApiProperty({ example: 4.2, description: 'Time the service spent on the report' }) query_ms!: number;
  @ApiPropertyOptional(DEBUG_META) debug?: ReportDebugDto;
}

@ApiExtraModels(SummaryValueDto)
export class SummaryAnswerDto {
  @ApiProperty({ format: 'date-time', example: '2025-01-15T00:00:00.000Z', description: 'Start of the range covered' })
  from!: string;
  @ApiProperty({ format: 'date-time', example: '2025-01-16T00:00:00.000Z', description: 'End of the range covered' })
  to!: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: { $ref: getSchemaPath(SummaryValueDto) },
    example: {
      'ai.tool_calls.count': { value: 1520, count: 1520 },
      'ai.tool_calls.success_rate': { value: 0.94, count: 1520 },
    },
    description: 'One value per metric asked for, keyed by its name',
  })
  metrics!: Record<string, SummaryValueDto>;
  @ApiProperty({ type: QueryTimeDto }) meta!: QueryTimeDto;
}
