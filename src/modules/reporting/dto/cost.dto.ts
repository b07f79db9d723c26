import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { InvalidAs } from '../../../common/dto-validation.pipe';
import { PRICE_UNITS } from '../../costs/usage-lines';
import { QueryTimeDto, ReportScopeDto } from './report.dto';

export const COST_GROUPS = ['model', 'provider', 'unit', 'conversation', 'turn'] as const;

@InvalidAs('invalid-report', 'Invalid report request', '{tenantId, from, to}')
export class CostQueryDto extends ReportScopeDto {
  @ApiPropertyOptional({
    enum: COST_GROUPS,
    description: 'Also answer the cost per model, provider, unit, conversation or turn',
  })
  @IsOptional()
  @IsIn([...COST_GROUPS], { message: `group_by must be one of ${COST_GROUPS.join(', ')}` })
  group_by?: (typeof COST_GROUPS)[number];
}

export class MoneyDto {
  @ApiProperty({ example: '0.0020325', description: 'The exact cost in the currency, a decimal string' })
  amount!: string;
  @ApiProperty({
    example: '2033',
    description: 'The cost in integer micro-units (amount × 10^6, rounded half away from zero), a string',
  })
  micros!: string;
  @ApiProperty({ example: 12, description: 'Usage lines counted' }) lines!: number;
  @ApiProperty({ example: 0, description: 'Of them, lines without a price: their cost is not in amount' })
  missing_lines!: number;
}

export class CostGroupDto extends MoneyDto {
  @ApiProperty({
    type: String,
    nullable: true,
    example: 'gpt-4o-mini',
    description: 'The model, provider, unit, conversation id or conversation/turn; null where the lines name none',
  })
  key!: string | null;
}

export class MissingPriceDto {
  @ApiProperty({ type: String, nullable: true, example: 'gpt-4.1' }) model!: string | null;
  @ApiProperty({ type: String, nullable: true, example: 'openai' }) provider!: string | null;
  @ApiProperty({ enum: PRICE_UNITS }) unit!: string;
  @ApiProperty({ example: 3 }) lines!: number;
  @ApiProperty({ example: '2412', description: 'Their quantity, exact decimal string' }) quantity!: string;
}

export class CostAnswerDto {
  @ApiProperty({ format: 'date-time' }) from!: string;
  @ApiProperty({ format: 'date-time' }) to!: string;
  @ApiProperty({
    type: String,
    nullable: true,
    example: 'USD',
    description: "The price book's currency; null before any book",
  })
  currency!: string | null;
  @ApiProperty({ type: MoneyDto }) total!: MoneyDto;
  @ApiProperty({
    type: [MissingPriceDto],
    description:
      'Usage no price applied to (no book valid then, or none for its model or provider and unit): reported, never counted as 0',
  })
  missing!: MissingPriceDto[];
  @ApiPropertyOptional({
    type: [CostGroupDto],
    description: 'With group_by: the cost per group, costliest first (at most 1000)',
  })
  groups?: CostGroupDto[];
  @ApiProperty({ type: QueryTimeDto }) meta!: QueryTimeDto;
}
