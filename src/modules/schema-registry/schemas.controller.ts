import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiProblem, AuthenticatedApi, JsonBodyProblems } from '../../common/api-docs';
import { CurrentPrincipal, RequireScope } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { PublishSchemaDto, SchemaSummaryDto, SchemaVersionDto, SchemaVersionQueryDto } from './dto/schema.dto';
import { SchemasService } from './schemas.service';

@ApiTags('schemas')
@AuthenticatedApi('The credential lacks the scope')
@Controller('api/v1/analytics/schemas')
export class SchemasController {
  constructor(private readonly schemas: SchemasService) {}

  @Post()
  @HttpCode(201)
  @RequireScope('admin')
  @ApiOperation({
    operationId: 'publishSchema',
    summary: 'Publish a schema version (admin)',
    description:
      'For a custom event type (`event_name` + `version`) or an Iglu self-describing schema (`uri`). Versions are immutable and follow SchemaVer: the first is 1-0-0, each next one is a single MODEL, REVISION or ADDITION step, and an ADDITION must accept everything the previous version accepted. Every API instance enforces a new version within a second.',
  })
  @ApiBody({ type: PublishSchemaDto })
  @ApiResponse({ status: 201, description: 'Published', type: SchemaVersionDto })
  @ApiProblem(
    400,
    'A malformed request, or a schema refused (meta-schema, remote $ref, unsafe regex, size, depth); reasons lists why',
  )
  @ApiProblem(409, 'That version is already published')
  @JsonBodyProblems()
  @ApiProblem(
    422,
    "Out of SchemaVer sequence, an ADDITION that is not backward compatible (reasons lists each incompatibility), or past the tenant's schema quota",
  )
  publish(@Body() body: PublishSchemaDto, @CurrentPrincipal() p: Principal): Promise<SchemaVersionDto> {
    return this.schemas.publish(p.tenantId, body);
  }

  @Get()
  @RequireScope('report')
  @ApiOperation({
    operationId: 'listSchemas',
    summary: "List the built-in event types and this tenant's schemas with their versions",
    description: 'Built-in types first, then custom event types and Iglu schemas, each with every published version.',
  })
  @ApiResponse({ status: 200, type: [SchemaSummaryDto] })
  list(@CurrentPrincipal() p: Principal): Promise<SchemaSummaryDto[]> {
    return this.schemas.list(p.tenantId);
  }

  @Get('version')
  @RequireScope('report')
  @ApiOperation({
    operationId: 'getSchemaVersion',
    summary: 'One schema version, by name (and version; the latest when omitted) or by Iglu URI',
    description: 'The schema exactly as published; a built-in type answers its attribute schema as version 1-0-0.',
  })
  @ApiResponse({ status: 200, description: 'The version and its schema', type: SchemaVersionDto })
  @ApiProblem(400, 'Neither name nor uri, both, a malformed version or URI, or a parameter given twice')
  @ApiProblem(404, 'No such schema or version')
  version(@CurrentPrincipal() p: Principal, @Query() query: SchemaVersionQueryDto): Promise<SchemaVersionDto> {
    return this.schemas.version(p.tenantId, query);
  }
}
