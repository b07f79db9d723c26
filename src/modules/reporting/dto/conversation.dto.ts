import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, MaxLength, MinLength } from 'class-validator';
import { IsCanonicalUuid } from '../../../common/dto/validators';
import { InvalidAs } from '../../../common/dto-validation.pipe';
import { IsDateTimeWithZone } from './date-time';
import { MoneyDto } from './cost.dto';
import { QueryTimeDto } from './report.dto';

@InvalidAs('invalid-report', 'Invalid report request', '{tenantId, from, to}')
export class ConversationQueryDto {
  @ApiProperty({ format: 'uuid', description: "The tenant; the credential's own, or any for an operator" })
  @IsCanonicalUuid({ message: 'tenantId must be the tenant UUID' })
  tenantId!: string;

  @ApiProperty({ format: 'date-time', example: '2025-01-15T00:00:00Z', description: 'Start, inclusive' })
  @IsDateTimeWithZone()
  from!: string;

  @ApiProperty({ format: 'date-time', example: '2025-01-16T00:00:00Z', description: 'End, exclusive' })
  @IsDateTimeWithZone()
  to!: string;
}

export class ConversationParamsDto {
  @IsString({ message: 'the conversation id must be a string' })
  @MinLength(1, { message: 'the conversation id must not be empty' })
  @MaxLength(256, { message: 'the conversation id must be at most 256 characters' })
  id!: string;
}

export class LlmCallDto {
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty({ type: String, nullable: true, example: 'gpt-4o-mini' }) model!: string | null;
  @ApiProperty({ type: String, nullable: true, example: 'openai' }) provider!: string | null;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'integer' },
    example: { input: 812, output: 64, cache_read: 512 },
    description:
      'Tokens by kind as reported (input, output, cache_read, cache_write, reasoning, audio_input, audio_output); kinds not reported are absent',
  })
  tokens!: Record<string, number>;
  @ApiPropertyOptional({ example: 310 }) time_to_first_token_ms?: number;
  @ApiPropertyOptional({ example: 930 }) duration_ms?: number;
}

export class ToolCallDto {
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty({ example: 'kb.search' }) name!: string;
  @ApiProperty({ type: Boolean, nullable: true }) success!: boolean | null;
  @ApiPropertyOptional({ example: 150 }) duration_ms?: number;
  @ApiPropertyOptional({ example: 'timeout' }) error_type?: string;
}

export class BargeInDto {
  @ApiProperty({ enum: ['user', 'agent'] }) by!: string;
  @ApiPropertyOptional({ example: 180, description: 'Time to yield, ms' }) yield_ms?: number;
  @ApiProperty({ description: 'The agent resumed (a false interruption)' }) resumed!: boolean;
}

export class ConversationTurnDto {
  @ApiProperty({
    type: String,
    nullable: true,
    example: 't-1',
    description: 'null gathers the calls that named no turn',
  })
  turn_id!: string | null;
  @ApiPropertyOptional({ example: 0 }) index?: number;
  @ApiPropertyOptional({ format: 'date-time', description: 'When the turn ended (voice.turn_completed)' })
  ended_at?: string;
  @ApiPropertyOptional({ example: 'completed' }) end_reason?: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'number' },
    example: { endpoint: 180, llm_ttft: 310, e2e: 790 },
    description: 'The stage timings the turn reported, ms; stages not reported are absent',
  })
  stages!: Record<string, number>;
  @ApiPropertyOptional({ type: BargeInDto, description: 'Present when someone barged in' }) barge_in?: BargeInDto;
  @ApiProperty({ type: [LlmCallDto] }) llm_calls!: LlmCallDto[];
  @ApiProperty({ type: [ToolCallDto] }) tool_calls!: ToolCallDto[];
  @ApiPropertyOptional({ example: 2400 }) stt_audio_ms?: number;
  @ApiPropertyOptional({ example: 86 }) tts_characters?: number;
  @ApiProperty({ type: MoneyDto, description: "The turn's priced usage" }) cost!: MoneyDto;
}

export class ConversationAnswerDto {
  @ApiProperty({ example: 'conv-7' }) conversation_id!: string;
  @ApiProperty({ type: String, nullable: true, example: 'USD' }) currency!: string | null;
  @ApiProperty({
    type: [ConversationTurnDto],
    description: 'Turns in order (turn index, else time), then calls that named no turn',
  })
  turns!: ConversationTurnDto[];
  @ApiProperty({ type: MoneyDto, description: "The conversation's priced usage" }) cost!: MoneyDto;
  @ApiProperty({ type: QueryTimeDto }) meta!: QueryTimeDto;
}
