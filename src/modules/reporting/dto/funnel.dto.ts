import { Allow } from 'class-validator';
import { InvalidAs, ParsedBy } from '../../../common/dto-validation.pipe';
import { parseFunnelRequest } from '../funnel-request';
import { ReportDebugDto } from './report.dto';
import { ApiExtraModels, ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import {
  DEFAULT_BREAKDOWN_LIMIT,
  FILTER_OPS,
  MAX_BINS,
  MAX_BREAKDOWN,
  MAX_BREAKDOWN_LIMIT,
  MAX_EXCLUSIONS,
  MAX_FILTERS,
  MAX_IN_VALUES,
  MAX_NAMES_PER_STEP,
  MAX_STEPS,
  MAX_WINDOW_SECONDS,
} from '../funnel-request';

/**
 * The funnel's request and answer as the OpenAPI contract shows them. The request is checked by
 * parseFunnelRequest (funnel-request.ts), which answers every refusal as a 400 problem pointing at
 * the field; these classes describe the same fields.
 */
const EVENT_NAMES = {
  oneOf: [
    { type: 'string', example: 'commerce.view' },
    { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: MAX_NAMES_PER_STEP },
  ],
  description: `An event name, or a list of 1 to ${MAX_NAMES_PER_STEP} names: any of them`,
};

export class FunnelFilterDto {
  @ApiProperty({ example: 'ai.tool.success', description: "An attribute name: a key of the event's attributes" })
  attribute!: string;
  @ApiProperty({
    enum: FILTER_OPS,
    example: 'eq',
    description:
      'eq, in: the same JSON value (5 is not "5"); neq: anything else, a missing attribute included; gt, lt: a number above or below; exists: present and not null',
  })
  op!: string;
  @ApiPropertyOptional({
    oneOf: [
      { type: 'string', maxLength: 500 },
      { type: 'number' },
      { type: 'boolean' },
      {
        type: 'array',
        items: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
        maxItems: MAX_IN_VALUES,
      },
    ],
    example: true,
    description: `A string, number or boolean; a list of 1 to ${MAX_IN_VALUES} of them for in; a number for gt and lt; left out for exists`,
  })
  value?: unknown;
}

export class FunnelStepDto {
  @ApiProperty(EVENT_NAMES)
  event!: string | string[];
  @ApiPropertyOptional({
    type: [FunnelFilterDto],
    maxItems: MAX_FILTERS,
    description: 'Property filters, all of which must hold',
  })
  where?: FunnelFilterDto[];
  @ApiPropertyOptional({
    default: false,
    description: 'The chain may skip this step; its count is the units that passed it. Not the first step.',
  })
  optional?: boolean;
  @ApiPropertyOptional({ maxLength: 100, description: 'The name of the step in the answer' })
  label?: string;
}

export class FunnelExclusionDto {
  @ApiProperty(EVENT_NAMES)
  event!: string | string[];
  @ApiPropertyOptional({ type: [FunnelFilterDto], maxItems: MAX_FILTERS })
  where?: FunnelFilterDto[];
  @ApiPropertyOptional({
    type: [Number],
    minItems: 2,
    maxItems: 2,
    example: [2, 3],
    description:
      'Two required step numbers (from 1): an excluded event after the first one breaks the chain before the later steps up to the second. Default: the first and the last required step.',
  })
  between?: number[];
}

export class FunnelTimeToConvertOptionsDto {
  @ApiPropertyOptional({
    type: [Number],
    maxItems: MAX_BINS,
    example: [1000, 60000, 600000],
    description: 'Increasing histogram edges in ms, above 0. Default: 100 ms … 14 days, those below the window.',
  })
  bins_ms?: number[];
}

export class FunnelConversionOverTimeOptionsDto {
  @ApiProperty({ enum: ['1h', '1d'], description: 'The grain of the buckets of the first step' })
  grain!: string;
}

@ApiExtraModels(FunnelStepDto)
/** Each field is checked by parseFunnelRequest (funnel-request.ts), run by the validation pipe. */
@InvalidAs('invalid-report', 'Invalid report request', '{tenantId, steps, from, to}')
@ParsedBy(parseFunnelRequest)
export class FunnelRequestDto {
  @ApiProperty({ format: 'uuid', example: '0b9d6f1e-5c1a-4a53-9f43-2c1e8a7d9b10' })
  @Allow()
  tenantId!: string;
  @ApiProperty({
    type: 'array',
    minItems: 2,
    maxItems: MAX_STEPS,
    items: { oneOf: [{ type: 'string' }, { $ref: getSchemaPath(FunnelStepDto) }] },
    example: ['commerce.view', { event: 'commerce.add_to_cart', optional: true }, 'commerce.checkout'],
    description: '2 to 10 steps: event names or step objects; at least 2 required, the first required',
  })
  @Allow()
  steps!: (string | FunnelStepDto)[];
  @ApiProperty({
    format: 'date-time',
    example: '2025-01-15T00:00:00Z',
    description: 'Chains start in [from, to], to the microsecond',
  })
  @Allow()
  from!: string;
  @ApiProperty({ format: 'date-time', example: '2025-01-15T23:59:59.999999Z' })
  @Allow()
  to!: string;
  @ApiPropertyOptional({
    minimum: 1,
    maximum: MAX_WINDOW_SECONDS,
    default: 3600,
    description: 'How long after its first step a chain may take, inclusive',
  })
  @Allow()
  window_seconds?: number;
  @ApiPropertyOptional({
    default: 'session_id',
    example: 'attributes.gen_ai.conversation.id',
    description: 'session_id, user_id or attributes.<name>: what is counted; events without it are left out',
  })
  @Allow()
  unit?: string;
  @ApiPropertyOptional({
    enum: ['ordered', 'strict'],
    default: 'ordered',
    description: 'ordered allows other events between steps; strict none',
  })
  @Allow()
  order?: string;
  @ApiPropertyOptional({ type: [FunnelExclusionDto], maxItems: MAX_EXCLUSIONS })
  @Allow()
  exclusions?: FunnelExclusionDto[];
  @ApiPropertyOptional({
    type: [String],
    maxItems: MAX_BREAKDOWN,
    example: ['source'],
    description: "site_id, source or attributes.<name>, read on the chain's first-step event",
  })
  @Allow()
  breakdown?: string[];
  @ApiPropertyOptional({
    minimum: 1,
    maximum: MAX_BREAKDOWN_LIMIT,
    default: DEFAULT_BREAKDOWN_LIMIT,
    description: 'Breakdown values with a funnel of their own; the rest form one "other" group',
  })
  @Allow()
  breakdown_limit?: number;
  @ApiPropertyOptional({ type: FunnelTimeToConvertOptionsDto })
  @Allow()
  time_to_convert?: FunnelTimeToConvertOptionsDto;
  @ApiPropertyOptional({ type: FunnelConversionOverTimeOptionsDto })
  @Allow()
  conversion_over_time?: FunnelConversionOverTimeOptionsDto;
}

export class FunnelHistogramBinDto {
  @ApiProperty({ example: 1000 }) from_ms!: number;
  @ApiProperty({ example: 5000, description: 'Exclusive, except the last bin, which ends at the window inclusive' })
  to_ms!: number;
  @ApiProperty({ example: 42 }) units!: number;
}

const quantile = (q: string) =>
  ApiProperty({
    type: Number,
    nullable: true,
    description: `${q} in ms by nearest rank, within 1 %; null without units`,
  });

export class FunnelDistributionDto {
  @quantile('p50') p50!: number | null;
  @quantile('p75') p75!: number | null;
  @quantile('p90') p90!: number | null;
  @quantile('p95') p95!: number | null;
  @quantile('p99') p99!: number | null;
  @ApiProperty({ type: [FunnelHistogramBinDto] }) histogram!: FunnelHistogramBinDto[];
}

export class FunnelTimeToConvertDto {
  @ApiProperty({ type: FunnelDistributionDto, description: 'From the previous required step' })
  from_previous!: FunnelDistributionDto;
  @ApiProperty({ type: FunnelDistributionDto, description: 'From the first step' })
  from_first!: FunnelDistributionDto;
}

export class FunnelStepAnswerDto {
  @ApiProperty({ example: 2 }) step!: number;
  @ApiProperty({ example: 'commerce.add_to_cart', description: "The step's label, or its names joined by ' | '" })
  event!: string;
  @ApiProperty({ type: [String], example: ['commerce.add_to_cart'] }) events!: string[];
  @ApiProperty({ example: false }) optional!: boolean;
  @ApiProperty({ example: 300, description: 'Units whose chain passed the step' }) units!: number;
  @ApiProperty({ type: Number, nullable: true, example: 0.25 }) conversion_from_first!: number | null;
  @ApiProperty({
    type: Number,
    nullable: true,
    example: 0.25,
    description: 'Units ÷ the units of the previous required step',
  })
  conversion_from_previous!: number | null;
  @ApiProperty({
    type: Number,
    nullable: true,
    example: 42000.5,
    description: 'Exact median time from the previous required step, ms with the microseconds',
  })
  median_ms_from_previous!: number | null;
  @ApiPropertyOptional({ type: FunnelTimeToConvertDto, description: 'Left out for the first step' })
  time_to_convert?: FunnelTimeToConvertDto;
}

export class FunnelBreakdownGroupDto {
  @ApiProperty({
    type: 'array',
    items: {},
    example: ['web'],
    description: 'The values of the breakdown properties (null: the event had none; all null in the other group)',
  })
  values!: unknown[];
  @ApiProperty({ example: false, description: 'The group of every value beyond breakdown_limit' })
  other!: boolean;
  @ApiProperty({ example: 700 }) units!: number;
  @ApiProperty({ type: [FunnelStepAnswerDto] }) steps!: FunnelStepAnswerDto[];
}

export class FunnelBreakdownDto {
  @ApiProperty({ type: [String], example: ['source'] }) properties!: string[];
  @ApiProperty({ example: 10 }) limit!: number;
  @ApiProperty({ example: 3, description: 'Distinct values seen' }) values_total!: number;
  @ApiProperty({ type: [FunnelBreakdownGroupDto] }) groups!: FunnelBreakdownGroupDto[];
}

export class FunnelConversionPointDto {
  @ApiProperty({ format: 'date-time', example: '2025-01-15T00:00:00.000Z' }) t!: string;
  @ApiProperty({ type: [Number], example: [120, 30, 12], description: 'Units per step whose chain started here' })
  units!: number[];
  @ApiProperty({ type: Number, nullable: true, example: 0.1 }) conversion_from_first!: number | null;
}

export class FunnelConversionOverTimeDto {
  @ApiProperty({ example: '1d' }) grain!: string;
  @ApiProperty({ type: [FunnelConversionPointDto] }) points!: FunnelConversionPointDto[];
}

export class FunnelMetaDto {
  @ApiProperty({ example: 1200 }) units!: number;
  @ApiProperty({ example: 3600 }) window_seconds!: number;
  @ApiProperty({ example: 'session_id' }) unit!: string;
  @ApiProperty({ example: 'ordered' }) order!: string;
  @ApiProperty({ type: [Number], description: 'The histogram edges used, ms' }) bins_ms!: number[];
  @ApiProperty({ example: 38.2 }) query_ms!: number;
  @ApiPropertyOptional({
    type: ReportDebugDto,
    description: 'Only in debug mode (ANALYTICS_DEBUG_MODE=true), and only to an admin key: the SQL and its plans',
  })
  debug?: ReportDebugDto;
}

export class FunnelAnswerDto {
  @ApiProperty({ type: [FunnelStepAnswerDto] }) steps!: FunnelStepAnswerDto[];
  @ApiPropertyOptional({ type: FunnelBreakdownDto }) breakdown?: FunnelBreakdownDto;
  @ApiPropertyOptional({ type: FunnelConversionOverTimeDto }) conversion_over_time?: FunnelConversionOverTimeDto;
  @ApiProperty({ type: FunnelMetaDto }) meta!: FunnelMetaDto;
}
