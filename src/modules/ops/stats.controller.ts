import { Controller, Get, Query } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiProblem, AuthenticatedApi } from '../../common/api-docs';
import { CurrentPrincipal, RequireScope } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { TenantAccess } from '../auth/tenant-access';
import { ServiceStatsDto, StatsQueryDto } from './dto/stats.dto';
import { StatsService, ServiceStats } from './stats.service';

@ApiTags('ops')
@AuthenticatedApi('Not an admin credential, or another tenant named by a non-operator')
@RequireScope('admin')
@Controller('api/v1/analytics/stats')
export class StatsController {
  constructor(
    private readonly stats: StatsService,
    private readonly access: TenantAccess,
  ) {}

  @Get()
  @ApiOperation({
    operationId: 'getStats',
    summary: 'Service statistics (admin)',
    description:
      "Verdict counters of the caller's tenant. An operator tenant also sees the queues, the events not yet folded into rollups, and service-wide totals, and may name any tenant.",
  })
  @ApiResponse({ status: 200, type: ServiceStatsDto })
  @ApiProblem(400, 'tenantId is not a tenant UUID')
  @ApiProblem(404, 'No such tenant (an operator naming a tenant that does not exist)')
  async read(@CurrentPrincipal() principal: Principal, @Query() query: StatsQueryDto): Promise<ServiceStats> {
    const target = await this.access.resolve(principal, query.tenantId ?? principal.tenantId);
    // Service-wide figures are a cross-tenant view: an operator's API key, never a JWT.
    return this.stats.read(target, principal.isOperator && principal.via === 'api_key');
  }
}
