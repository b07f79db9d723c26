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
}
