import { Body, Controller, HttpCode, Post, Res } from '@nestjs/common';
import {
  ApiBody,
  ApiConsumes,
  ApiExtraModels,
  ApiOperation,
  ApiResponse,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiProblem, AuthenticatedApi } from '../../common/api-docs';
import { ProblemException } from '../../common/problem';
import { CarriesEvents, CurrentPrincipal, RequireScope } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import {
  ExportLogsResponseDto,
  ExportTraceResponseDto,
  LOGS_REQUEST_SCHEMA,
  TRACES_REQUEST_SCHEMA,
} from './dto/otlp.dto';
import { OtlpSignal, encodeProtobufResponse } from './otlp-proto';
import { OtlpExport } from './otlp-request';
import { OtlpService } from './otlp.service';

const PROTOBUF = 'application/x-protobuf';

const OtlpAnswers = (signal: OtlpSignal) => {
  const dto = signal === 'traces' ? ExportTraceResponseDto : ExportLogsResponseDto;
  const items = signal === 'traces' ? 'spans' : 'log records';
  return (target: object, key: string | symbol, descriptor: PropertyDescriptor) => {
    ApiExtraModels(dto)(target, key, descriptor);
    ApiConsumes(PROTOBUF, 'application/json')(target, key, descriptor);
    ApiBody({
      required: true,
      description: `Export${signal === 'traces' ? 'Trace' : 'Logs'}ServiceRequest as protobuf or OTLP/JSON; Content-Encoding gzip, deflate or br may compress it.`,
      schema: signal === 'traces' ? TRACES_REQUEST_SCHEMA : LOGS_REQUEST_SCHEMA,
    })(target, key, descriptor);
    ApiResponse({
      status: 200,
      description: `Export${signal === 'traces' ? 'Trace' : 'Logs'}ServiceResponse in the request's encoding: empty when every one of the ${items} was stored or was a duplicate; partialSuccess counts the ${items} whose events failed validation, and its message names the first failures and the ${items} that mapped to no event type (skipped, not stored).`,
      content: {
        'application/json': { schema: { $ref: getSchemaPath(dto) } },
        [PROTOBUF]: { schema: { type: 'string', format: 'binary' } },
      },
    })(target, key, descriptor);
    ApiProblem(400, 'The body is not an export request of this signal (the problem names where it went wrong)')(
      target,
      key,
      descriptor,
    );
    ApiProblem(413, 'The decompressed body exceeds ANALYTICS_OTLP_MAX_PAYLOAD_KB')(target, key, descriptor);
    ApiProblem(415, 'The body is not application/x-protobuf or application/json, or its Content-Encoding is unknown')(
      target,
      key,
      descriptor,
    );
  };
};

/**
 * OTLP/HTTP: OpenTelemetry exporters post spans and log records here; the mapping table
 * (otlp-mapping.ts, docs/otlp.md) turns them into events for the ingestion pipeline. The api
 * also answers the exporters' default paths /v1/traces and /v1/logs (otlpBody rewrites them).
 */
@ApiTags('otlp')
@AuthenticatedApi("The credential lacks the ingest scope, or the Origin is not in the tenant's CORS allow-list")
@RequireScope('ingest')
@Controller('api/v1/analytics/otlp/v1')
export class OtlpController {
  constructor(private readonly otlp: OtlpService) {}

  @Post('traces')
  @CarriesEvents('otlp')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'exportTraces',
    summary: 'OTLP/HTTP traces',
    description:
      'Spans become events by the mapping table of docs/otlp.md: execute_tool → ai.tool_call_started/completed, invoke_agent → ai.tool_chain_completed, chat → ai.llm_call_completed, voice pipeline spans → voice.*. Also at /v1/traces. Each span counts against the events/s limit. 429 and 503 carry Retry-After: the statuses an OTLP exporter retries.',
  })
  @OtlpAnswers('traces')
  @ApiProblem(
    503,
    'The queue, dedupe store or database is unavailable, or the backlog is too long; retry after Retry-After',
  )
  traces(@Body() body: unknown, @CurrentPrincipal() principal: Principal, @Res() res: Response): Promise<void> {
    return this.answer('traces', body, principal, res);
  }

  @Post('logs')
  @CarriesEvents('otlp')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'exportLogs',
    summary: 'OTLP/HTTP logs',
    description:
      'Log records whose event name (LogRecord.event_name, or the event.name attribute) is a built-in or tenant event type become that event. Also at /v1/logs. Each record counts against the events/s limit.',
  })
  @OtlpAnswers('logs')
  @ApiProblem(
    503,
    'The queue, dedupe store or database is unavailable, or the backlog is too long; retry after Retry-After',
  )
  logs(@Body() body: unknown, @CurrentPrincipal() principal: Principal, @Res() res: Response): Promise<void> {
    return this.answer('logs', body, principal, res);
  }

  private async answer(signal: OtlpSignal, body: unknown, principal: Principal, res: Response): Promise<void> {
    const exp = body as OtlpExport | undefined;
    if (!exp || typeof exp !== 'object' || exp.signal !== signal) {
      // Only when the service is mounted in a host whose body parser read the body first.
      throw new ProblemException(
        415,
        'unsupported-media-type',
        'Unsupported media type',
        'This OTLP body was not read by the service (a body parser of the host application took it); mount the OTLP routes without one.',
      );
    }
    const answer = await this.otlp.export(exp, principal);
    res.status(200);
    if (exp.encoding === 'protobuf') {
      res.setHeader('Content-Type', PROTOBUF);
      res.send(encodeProtobufResponse(signal, answer as Record<string, unknown>));
    } else {
      res.json(answer);
    }
  }
}
