import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { InvalidAs } from '../../../common/dto-validation.pipe';
import { IsDateTimeWithZone } from '../../reporting/dto/date-time';
import { PRICE_UNITS } from '../usage-lines';

export const PRICE_PATTERN = /^(0|[1-9]\d{0,11})(\.\d{1,12})?$/;
export const PER_UNITS = [1, 1000, 1_000_000] as const;

export class PriceDto {
  @ApiPropertyOptional({
    example: 'gpt-4o-mini',
    description:
      'The model (gen_ai.request.model, voice.stt.model, voice.tts.model, or the tool name for tool_call); exactly one of model and provider',
  })
  @IsOptional()
  @IsString({ message: 'model must be a string' })
  @MinLength(1, { message: 'model must not be empty' })
  @MaxLength(128, { message: 'model must be at most 128 characters' })
  model?: string;

  @ApiPropertyOptional({
    example: 'openai',
    description:
      'The provider (gen_ai.provider.name, voice.stt.provider, voice.tts.provider): the price of every model of it that has no price of its own',
  })
  @IsOptional()
  @IsString({ message: 'provider must be a string' })
  @MinLength(1, { message: 'provider must not be empty' })
  @MaxLength(64, { message: 'provider must be at most 64 characters' })
  provider?: string;

  @ApiProperty({ enum: PRICE_UNITS, example: 'input_token' })
  @IsIn([...PRICE_UNITS], { message: `unit must be one of ${PRICE_UNITS.join(', ')}` })
  unit!: string;

  @ApiProperty({
    example: '0.15',
    pattern: PRICE_PATTERN.source,
    description:
      "The price of `per` units in the book's currency, as a decimal string (at most 12 decimals): exact, never a float",
  })
  @IsString({ message: 'price must be a decimal string, e.g. "0.15"' })
  @Matches(PRICE_PATTERN, { message: 'price must be a decimal string with at most 12 decimals, e.g. "0.15"' })
  price!: string;

  @ApiPropertyOptional({
    enum: PER_UNITS,
    default: 1,
    example: 1_000_000,
    description: 'How many units the price is for',
  })
  @IsOptional()
  @IsIn([...PER_UNITS], { message: 'per must be 1, 1000 or 1000000' })
  per?: number;
}

@InvalidAs('invalid-price-book', 'Invalid price book', '{currency, valid_from, prices}')
export class PublishPriceBookDto {
  @ApiProperty({
    example: 'USD',
    pattern: '^[A-Z]{3}$',
    description: "ISO 4217 code; every version of a tenant's book has the same",
  })
  @IsString({ message: 'currency must be an ISO 4217 code such as USD' })
  @Matches(/^[A-Z]{3}$/, { message: 'currency must be an ISO 4217 code such as USD' })
  currency!: string;

  @ApiProperty({
    format: 'date-time',
    example: '2025-01-15T12:00:00Z',
    description: 'From when this version prices usage (RFC 3339 with a zone); it holds until a later version begins',
  })
  @IsDateTimeWithZone()
  valid_from!: string;

  @ApiProperty({
    type: [PriceDto],
    minItems: 1,
    maxItems: 1000,
    description: 'The whole price list of this version: a version replaces the previous one from valid_from on',
  })
  @IsArray({ message: 'prices must be a list of 1 to 1000 prices' })
  @ArrayMinSize(1, { message: 'prices must be a list of 1 to 1000 prices' })
  @ArrayMaxSize(1000, { message: 'prices must be a list of 1 to 1000 prices' })
  @ValidateNested({ each: true })
  @Type(() => PriceDto)
  prices!: PriceDto[];
}

@InvalidAs('invalid-price-book', 'Invalid re-pricing request', '{from, to}')
export class RepriceDto {
  @ApiProperty({ format: 'date-time', example: '2025-01-15T00:00:00Z', description: 'Start, inclusive' })
  @IsDateTimeWithZone()
  from!: string;

  @ApiProperty({ format: 'date-time', example: '2025-01-16T00:00:00Z', description: 'End, exclusive, after from' })
  @IsDateTimeWithZone()
  to!: string;
}

export class PriceAnswerDto {
  @ApiProperty({ enum: ['model', 'provider'] }) match!: string;
  @ApiProperty({ example: 'gpt-4o-mini' }) name!: string;
  @ApiProperty({ enum: PRICE_UNITS }) unit!: string;
  @ApiProperty({ example: '0.00000015', description: 'Exact price of one unit, decimal string' }) unit_price!: string;
}

export class PriceBookDto {
  @ApiProperty({ example: 2 }) version!: number;
  @ApiProperty({ example: 'USD' }) currency!: string;
  @ApiProperty({ format: 'date-time' }) valid_from!: string;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ type: [PriceAnswerDto] }) prices!: PriceAnswerDto[];
}

export class PublishedPriceBookDto {
  @ApiProperty({ example: 2 }) version!: number;
  @ApiProperty({ example: 'USD' }) currency!: string;
  @ApiProperty({ format: 'date-time' }) valid_from!: string;
  @ApiProperty({
    example: true,
    description:
      'valid_from lies in the past: usage already priced from then on keeps its old cost until re-priced (POST /price-books/reprice)',
  })
  reprice_needed!: boolean;
}

export class RepriceAnswerDto {
  @ApiProperty({ example: 1204, description: 'Usage lines in the range' }) lines!: number;
  @ApiProperty({ example: 610, description: 'Lines whose cost or book version changed' }) changed!: number;
  @ApiProperty({
    example: 0,
    description: 'Lines left without a price (no book, or no price for their model/provider and unit)',
  })
  missing!: number;
}
