import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AuthenticatedApi } from '../../common/api-docs';
import { CurrentPrincipal, RequireScope } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { SchemaSummary, SchemaVersionView, SchemasService } from './schemas.service';

const exampleSchema = {
  type: 'object',
  required: ['quote.id', 'quote.value'],
  properties: { 'quote.id': { type: 'string' }, 'quote.value': { type: 'number', minimum: 0 } },
};

@ApiTags('schemas')
@AuthenticatedApi('The credential lacks the scope')
@Controller('api/v1/analytics/schemas')
export class SchemasController {
  constructor(private readonly schemas: SchemasService) {}

  @Post()
  @HttpCode(201)
  @RequireScope('admin')
  @ApiOperation({
    summary: 'Publish a schema version (admin)',
    description:
      'For a custom event type (`event_name` + `version`) or an Iglu self-describing schema (`uri`). Versions are immutable and follow SchemaVer: the first is 1-0-0, each next one is a single MODEL, REVISION or ADDITION step, and an ADDITION must accept everything the previous version accepted. Every API instance enforces a new version within a second.',
  })
  @ApiBody({ schema: { example: { event_name: 'acme.quote_requested', version: '1-0-0', schema: exampleSchema } } })
  @ApiResponse({
    status: 201,
    description: 'Published',
    schema: {
      example: {
        name: 'acme.quote_requested',
        kind: 'event',
        version: '1-0-0',
        ref: 'acme.quote_requested/1-0-0',
        schema: exampleSchema,
      },
    },
  })
  @ApiResponse({
    status: 400,
    description:
      'A malformed request, or a schema refused (meta-schema, remote $ref, unsafe regex, size, depth); reasons lists why',
  })
  @ApiResponse({ status: 409, description: 'That version is already published' })
  @ApiResponse({
    status: 422,
    description:
      'Out of SchemaVer sequence, or an ADDITION that is not backward compatible; reasons lists each incompatibility',
  })
  publish(@Body() body: unknown, @CurrentPrincipal() p: Principal): Promise<SchemaVersionView> {
    return this.schemas.publish(p.tenantId, body);
  }

  @Get()
  @RequireScope('report')
  @ApiOperation({ summary: "List the built-in event types and this tenant's schemas with their versions" })
  @ApiResponse({
    status: 200,
    schema: {
      example: [
        { name: 'voice.first_response', kind: 'builtin', versions: ['1-0-0'], latest: '1-0-0' },
        { name: 'acme.quote_requested', kind: 'event', versions: ['1-0-0', '1-0-1'], latest: '1-0-1' },
      ],
    },
  })
  list(@CurrentPrincipal() p: Principal): Promise<SchemaSummary[]> {
    return this.schemas.list(p.tenantId);
  }

  @Get('version')
  @RequireScope('report')
  @ApiOperation({ summary: 'One schema version, by name (and version; the latest when omitted) or by Iglu URI' })
  @ApiQuery({ name: 'name', required: false, example: 'acme.quote_requested' })
  @ApiQuery({ name: 'version', required: false, example: '1-0-0' })
  @ApiQuery({ name: 'uri', required: false, example: 'iglu:com.acme/quote/jsonschema/1-0-0' })
  @ApiResponse({ status: 200, description: 'The version and its schema' })
  @ApiResponse({ status: 404, description: 'No such schema or version' })
  version(
    @CurrentPrincipal() p: Principal,
    @Query('name') name?: string,
    @Query('version') version?: string,
    @Query('uri') uri?: string,
  ): Promise<SchemaVersionView> {
    return this.schemas.version(p.tenantId, { name, version, uri });
  }
}
