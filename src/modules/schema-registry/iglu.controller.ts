import { Controller, Get, Param, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ApiProblem, AuthenticatedApi } from '../../common/api-docs';
import { ProblemException } from '../../common/problem';
import { Public } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { RequestAuthorizer } from '../auth/request-authorizer';
import { SchemasService } from './schemas.service';

/**
 * Each tenant's Iglu schemas in the layout of an Iglu server (`/api/schemas/<vendor>/<name>/jsonschema/<version>`),
 * so that Snowplow resolvers and tools can read them. The key is the report key, as a header the
 * service reads everywhere, or as the `apikey` header Iglu resolvers send.
 */
@ApiTags('snowplow')
@AuthenticatedApi('The credential lacks the report scope')
@Public() // authorized below, so that the apikey header of Iglu resolvers counts too
@Controller('api/schemas')
export class IgluController {
  constructor(
    private readonly schemas: SchemasService,
    private readonly authorizer: RequestAuthorizer,
  ) {}

  @Get()
  @ApiOperation({
    operationId: 'listIgluSchemas',
    summary: "Iglu server: the URIs of this tenant's Iglu schemas",
    description: 'Every published version, as iglu: URIs, names in alphabetical order and versions in SchemaVer order.',
  })
  @ApiOkResponse({
    schema: { type: 'array', items: { type: 'string', example: 'iglu:com.acme/checkout/jsonschema/1-0-0' } },
  })
  async list(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<string[]> {
    const p = await this.admit(req, res);
    return this.schemas.igluUris(p.tenantId);
  }

  @Get(':vendor/:name/:format/:version')
  @ApiParam({ name: 'vendor', example: 'com.acme' })
  @ApiParam({ name: 'name', example: 'checkout' })
  @ApiParam({ name: 'format', example: 'jsonschema' })
  @ApiParam({ name: 'version', example: '1-0-0' })
  @ApiOperation({
    operationId: 'getIgluSchema',
    summary: 'Iglu server: one schema version, self-describing',
    description:
      'The schema as published; one published without a self block is answered with the Iglu meta-schema $schema and the self block of its URI, as resolvers expect.',
  })
  @ApiOkResponse({ schema: { type: 'object', additionalProperties: true } })
  @ApiProblem(404, 'No such schema or version for this tenant')
  async get(
    @Param('vendor') vendor: string,
    @Param('name') name: string,
    @Param('format') format: string,
    @Param('version') version: string,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<Record<string, unknown>> {
    const p = await this.admit(req, res);
    if (format !== 'jsonschema')
      throw new ProblemException(
        404,
        'schema-not-found',
        'Not found',
        `Only the jsonschema format is served (got ${JSON.stringify(format.slice(0, 32))}).`,
      );
    return this.schemas.igluSchema(p.tenantId, `iglu:${vendor}/${name}/${format}/${version}`);
  }

  private async admit(req: Request, res: Response): Promise<Principal> {
    const apikey = req.headers.apikey;
    const headers =
      typeof apikey === 'string' && !req.headers.authorization && !req.headers['x-analytics-key']
        ? { ...req.headers, 'x-analytics-key': apikey }
        : req.headers;
    const principal = await this.authorizer.authorize(
      { headers, protocol: req.protocol, socket: req.socket },
      'report',
      0,
      (k, v) => res.setHeader(k, v),
    );
    (req as Request & { principal?: Principal }).principal = principal;
    return principal;
  }
}
