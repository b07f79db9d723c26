import { Controller, Get, Query } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AuthenticatedApi } from '../../common/api-docs';
import { ProblemException } from '../../common/problem';
import { isUuid } from '../../common/validation';
import { CurrentPrincipal, RequireScope } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { TenantAccess } from '../auth/tenant-access';
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
    summary: 'Service statistics (admin)',
    description:
      "Verdict counters of the caller's tenant. An operator tenant also sees the queues, the events not yet folded into rollups, and service-wide totals, and may name any tenant.",
  })
  @ApiQuery({ name: 'tenantId', required: false, description: "A tenant other than the caller's own (operators only)" })
  @ApiResponse({
    status: 200,
    schema: {
      example: {
        tenant_id: '0b9d6f1e-5c1a-4a53-9f43-2c1e8a7d9b10',
        ingestion: { accepted: 1520, duplicate: 12, dropped: 4, rejected: 3, quarantined: 1 },
        service: {
          uptime_s: 3600,
          ingestion: { accepted: 91200, duplicate: 410, dropped: 20, rejected: 77, quarantined: 9 },
          queues: { ingest: { waiting: 0, active: 1, delayed: 0, failed: 0, completed: 1000 } },
          rollups: { enabled: true, pending_events: 0 },
        },
      },
    },
  })
  async read(@CurrentPrincipal() principal: Principal, @Query('tenantId') tenantId?: string): Promise<ServiceStats> {
    if (tenantId !== undefined && !isUuid(tenantId)) {
      throw new ProblemException(400, 'invalid-query', 'Invalid query', 'tenantId must be a tenant UUID.');
    }
    const target = await this.access.resolve(principal, tenantId ?? principal.tenantId);
    // Service-wide figures are a cross-tenant view: an operator's API key, never a JWT.
    return this.stats.read(target, principal.isOperator && principal.via === 'api_key');
  }
}
