import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsObject, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { InvalidAs } from '../../../common/dto-validation.pipe';
import { EventErrorDto } from '../../../common/dto/problem.dto';
import { StoredEvent } from '../../contracts/stored-event';

const exampleSchema = {
  type: 'object',
  required: ['quote.id', 'quote.value'],
  properties: { 'quote.id': { type: 'string' }, 'quote.value': { type: 'number', minimum: 0 } },
};

/** A schema version to publish: for a custom event type (event_name + version) or by Iglu URI. */
@InvalidAs(
  'invalid-schema-request',
  'Invalid schema request',
  '{"event_name", "version", "schema"} or {"uri", "schema"}',
)
export class PublishSchemaDto {
  @ApiPropertyOptional({
    example: 'acme.quote_requested',
    maxLength: 128,
    description: 'Dotted lower-case name of a custom event type (with version; not with uri)',
  })
  @IsOptional()
  @IsString({ message: '/event_name must be dotted lower-case, e.g. acme.quote_requested' })
  event_name?: string;

  @ApiPropertyOptional({ example: '1-0-0', description: 'SchemaVer MODEL-REVISION-ADDITION (with event_name)' })
  @IsOptional()
  @IsString({ message: '/version must be MODEL-REVISION-ADDITION, e.g. 1-0-0' })
  version?: string;

  @ApiPropertyOptional({
    example: 'iglu:com.acme/quote/jsonschema/1-0-0',
    description: 'An Iglu URI carrying vendor, name and version (instead of event_name and version)',
  })
  @IsOptional()
  @IsString({ message: '/uri must be iglu:vendor/name/jsonschema/MODEL-REVISION-ADDITION' })
  uri?: string;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    example: exampleSchema,
    description:
      "A JSON Schema of the event's attributes or of the Iglu entity: draft-07 (draft-04 and -06 keywords accepted), optionally self-describing (`$schema` the Iglu meta-schema and a `self` block matching the URI)",
  })
  @IsObject({ message: '/schema must be a JSON Schema object' })
  schema!: Record<string, unknown>;
}

/** Which schema version to read: by name (and version, the latest when omitted) or by Iglu URI. */
@InvalidAs('invalid-schema-request', 'Invalid schema request', '{name, version} or {uri}')
export class SchemaVersionQueryDto {
  @ApiPropertyOptional({ example: 'acme.quote_requested' })
  @IsOptional()
  @IsString({ message: 'name must be given once' })
  @MaxLength(256, { message: 'name must be at most 256 characters' })
  name?: string;

  @ApiPropertyOptional({ example: '1-0-0', description: 'The latest when omitted' })
  @IsOptional()
  @IsString({ message: 'version must be given once' })
  @MaxLength(64, { message: 'version must be at most 64 characters' })
  version?: string;

  @ApiPropertyOptional({ example: 'iglu:com.acme/quote/jsonschema/1-0-0' })
  @IsOptional()
  @IsString({ message: 'uri must be given once' })
  @MaxLength(512, { message: 'uri must be at most 512 characters' })
  uri?: string;
}

export class SchemaVersionDto {
  @ApiProperty({ example: 'acme.quote_requested' }) name!: string;
  @ApiProperty({ enum: ['builtin', 'event', 'iglu'], example: 'event' }) kind!: 'builtin' | 'event' | 'iglu';
  @ApiProperty({ example: '1-0-0' }) version!: string;
  @ApiProperty({ example: 'acme.quote_requested/1-0-0', description: 'How validation errors name this schema' })
  ref!: string;
  @ApiPropertyOptional({ example: 'iglu:com.acme/quote/jsonschema/1-0-0', description: 'Iglu schemas only' })
  uri?: string;
  @ApiPropertyOptional({ format: 'date-time', description: 'When it was published (not for built-in types)' })
  created_at?: string;
  @ApiProperty({ type: 'object', additionalProperties: true, example: exampleSchema }) schema!: Record<string, unknown>;
  @ApiPropertyOptional({
    type: [String],
    example: [
      'missing type "object" for keyword "required" at "#" (strictTypes) (style only; validation is unaffected)',
    ],
    description:
      'Only in the answer to a publish: what the schema review noticed without refusing (strict-mode style rules, a pattern whose analysis did not finish)',
  })
  warnings?: string[];
}

export class SchemaSummaryDto {
  @ApiProperty({ example: 'acme.quote_requested' }) name!: string;
  @ApiProperty({ enum: ['builtin', 'event', 'iglu'], example: 'event' }) kind!: 'builtin' | 'event' | 'iglu';
  @ApiProperty({ type: [String], example: ['1-0-0', '1-0-1'] }) versions!: string[];
  @ApiProperty({ example: '1-0-1' }) latest!: string;
}

@InvalidAs('invalid-query', 'Invalid query', '{limit}')
export class QuarantineQueryDto {
  @ApiPropertyOptional({ type: Number, minimum: 1, maximum: 500, default: 50, example: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'limit must be an integer from 1 to 500' })
  @Min(1, { message: 'limit must be an integer from 1 to 500' })
  @Max(500, { message: 'limit must be an integer from 1 to 500' })
  limit?: number;
}

export class QuarantinedEventDto {
  @ApiProperty({ format: 'uuid' }) event_id!: string;
  @ApiProperty({ example: 'acme.quote_requested' }) event_name!: string;
  @ApiProperty({ format: 'date-time', example: '2025-01-15T10:30:00.000Z' }) quarantined_at!: string;
  @ApiProperty({ type: [EventErrorDto] }) errors!: EventErrorDto[];
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'The event as it would be stored (sanitized), kept for a replay',
  })
  event!: StoredEvent;
}

export class QuarantineListDto {
  @ApiProperty({ example: 1, description: 'Quarantined events of the tenant waiting for a replay' }) pending!: number;
  @ApiProperty({ type: [QuarantinedEventDto], description: 'The oldest, at most limit' })
  events!: QuarantinedEventDto[];
}

export class ReplayAcceptedDto {
  @ApiProperty({ example: '42' }) replay_id!: string;
  @ApiProperty({ example: '/api/v1/analytics/quarantine/replays/42' }) status_url!: string;
}

export class ReplayResultDto {
  @ApiProperty({ example: 1 }) replayed!: number;
  @ApiProperty({ example: 1 }) stored!: number;
  @ApiProperty({ example: 0 }) still_invalid!: number;
}

export class ReplayStatusDto {
  @ApiProperty({ example: '42' }) replay_id!: string;
  @ApiProperty({
    enum: ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'],
    example: 'completed',
  })
  state!: string;
  @ApiProperty({ type: ReplayResultDto, nullable: true, description: 'null until the replay completes' })
  result!: ReplayResultDto | null;
  @ApiPropertyOptional({ description: 'Why the replay failed' }) failed_reason?: string;
}
