import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class EventErrorDto {
  @ApiProperty({ example: '/event_id', description: 'JSON pointer to the offending value' })
  pointer!: string;
  @ApiProperty({ example: 'format', description: 'The rule (JSON Schema keyword or service rule) that failed' })
  keyword!: string;
  @ApiProperty({ example: '/event_id must be a UUID (e.g. 123e4567-e89b-12d3-a456-426614174000)' })
  message!: string;
  @ApiPropertyOptional({
    example: 'envelope',
    description:
      'The schema the value was checked against: envelope, builtin:<event>, <event>/<version> or an Iglu URI (event errors only)',
  })
  schema?: string;
}

/** One way a SchemaVer ADDITION may refuse what the previous version accepted. */
export class CompatFindingDto {
  @ApiProperty({ example: '/properties/kind' }) pointer!: string;
  @ApiProperty({
    enum: ['incompatible', 'undecided'],
    description: 'incompatible: a value the previous version accepted is refused; undecided: the check cannot tell',
  })
  verdict!: 'incompatible' | 'undecided';
  @ApiProperty({ example: '/properties/kind: no longer accepts 1, which the previous version accepted' })
  message!: string;
}

/** RFC 9457 problem details (application/problem+json). */
export class ProblemDto {
  @ApiProperty({ example: 'https://analytics.dev/problems/invalid-event' })
  type!: string;
  @ApiProperty({ example: 'Invalid event' })
  title!: string;
  @ApiProperty({ example: 400 })
  status!: number;
  @ApiProperty({ example: '/source must be one of web, widget, voice_ws, server' })
  detail!: string;
  @ApiPropertyOptional({ type: [EventErrorDto] })
  errors?: EventErrorDto[];
  @ApiPropertyOptional({
    type: [String],
    description: 'A refused schema or schema import: every reason, each at a JSON pointer where it has one',
  })
  reasons?: string[];
  @ApiPropertyOptional({ type: [String], description: 'A refused schema: what its review noticed without refusing' })
  warnings?: string[];
  @ApiPropertyOptional({
    type: [CompatFindingDto],
    description: 'An incompatible ADDITION: each change and its verdict',
  })
  changes?: CompatFindingDto[];
}
