import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class TracePartialSuccessDto {
  @ApiProperty({ example: 2, description: 'Spans whose events failed validation (not stored; a resend will not help)' })
  rejectedSpans!: number;
  @ApiProperty({
    example:
      'span "execute_tool search" (span id 00f067aa0ba902b7) rejected: ai.tool_call_completed: /attributes/ai.tool.duration_ms must be >= 0. 3 spans mapped to no event type and were skipped.',
    description: 'The first failures, and how many spans mapped to no event type',
  })
  errorMessage!: string;
}

export class LogsPartialSuccessDto {
  @ApiProperty({ example: 1, description: 'Log records whose events failed validation' })
  rejectedLogRecords!: number;
  @ApiProperty({ description: 'The first failures, and how many records mapped to no event type' })
  errorMessage!: string;
}

/** ExportTraceServiceResponse, OTLP/JSON: empty when every span was stored or skipped silently. */
export class ExportTraceResponseDto {
  @ApiPropertyOptional({ type: TracePartialSuccessDto })
  partialSuccess?: TracePartialSuccessDto;
}

/** ExportLogsServiceResponse, OTLP/JSON. */
export class ExportLogsResponseDto {
  @ApiPropertyOptional({ type: LogsPartialSuccessDto })
  partialSuccess?: LogsPartialSuccessDto;
}

const exportRequest = (field: 'resourceSpans' | 'resourceLogs') => ({
  type: 'object' as const,
  description: `An OTLP/JSON Export${field === 'resourceSpans' ? 'Trace' : 'Logs'}ServiceRequest (opentelemetry-proto)`,
  properties: { [field]: { type: 'array' as const, items: { type: 'object' as const, additionalProperties: true } } },
});

export const TRACES_REQUEST_SCHEMA = exportRequest('resourceSpans');
export const LOGS_REQUEST_SCHEMA = exportRequest('resourceLogs');
