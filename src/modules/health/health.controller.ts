import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiExtraModels, ApiOperation, ApiResponse, ApiSecurity, ApiTags, getSchemaPath } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckResult,
  HealthCheckService,
  HealthIndicatorFunction,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { PROBLEM_CONTENT_TYPE, ProblemException } from '../../common/problem';
import { HealthDto, LiveDto, UnhealthyDto } from './dto/health.dto';
import { Public } from '../auth/auth.decorators';
import { QueueHealthIndicator } from './queue.health';
import { RedisHealthIndicator } from './redis.health';

const CHECK_TIMEOUT_MS = 1500;

const healthy = ApiResponse({ status: 200, description: 'Every check is up', type: HealthDto });
const unhealthy = ApiResponse({
  status: 503,
  description: 'A check is down (or the process is shutting down); `failing` names it and `checks` holds every result',
  content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: getSchemaPath(UnhealthyDto) } } },
});

@ApiTags('health')
@ApiExtraModels(UnhealthyDto)
@ApiSecurity({})
@Public()
@Controller('api/v1/analytics')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly redis: RedisHealthIndicator,
    private readonly queue: QueueHealthIndicator,
  ) {}

  private readonly postgresCheck: HealthIndicatorFunction = () =>
    this.db.pingCheck('postgres', { timeout: CHECK_TIMEOUT_MS });
  private readonly redisCheck: HealthIndicatorFunction = () => this.redis.isHealthy('redis', CHECK_TIMEOUT_MS);
  private readonly queueCheck: HealthIndicatorFunction = () => this.queue.isHealthy('ingest_queue', CHECK_TIMEOUT_MS);

  @Get('health')
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({
    operationId: 'getHealth',
    summary: 'Service health: Postgres, Redis and the ingest queue backlog',
    description: 'Each check is bounded to 1.5 s; 503 names the failing ones.',
  })
  @healthy
  @unhealthy
  service(): Promise<HealthCheckResult> {
    return this.run([this.postgresCheck, this.redisCheck, this.queueCheck]);
  }

  @Get('events/health')
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({
    operationId: 'getIngestionHealth',
    summary: 'Ingestion health: whether events can be accepted now (Redis reachable, backlog under its limit)',
    description:
      'What a load balancer in front of the ingestion endpoints should probe; Postgres is not needed to accept events.',
  })
  @healthy
  @unhealthy
  ingestion(): Promise<HealthCheckResult> {
    return this.run([this.redisCheck, this.queueCheck]);
  }

  @Get('health/live')
  @ApiOperation({
    operationId: 'getLiveness',
    summary: 'Liveness probe: the process answers; checks no dependency',
    description: 'For a Kubernetes livenessProbe: a dependency that is down never restarts the api.',
  })
  @ApiResponse({ status: 200, type: LiveDto })
  live(): LiveDto {
    return { status: 'ok' };
  }

  @Get('health/ready')
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({
    operationId: 'getReadiness',
    summary: 'Readiness probe: Postgres and Redis answer',
    description: 'For a Kubernetes readinessProbe; 503 while a dependency is down or the process is shutting down.',
  })
  @healthy
  @unhealthy
  ready(): Promise<HealthCheckResult> {
    return this.run([this.postgresCheck, this.redisCheck]);
  }

  private async run(checks: HealthIndicatorFunction[]): Promise<HealthCheckResult> {
    try {
      return await this.health.check(checks);
    } catch (err) {
      if (!(err instanceof ServiceUnavailableException)) throw err;
      const result = err.getResponse() as HealthCheckResult;
      const failing = Object.keys(result.error ?? {});
      throw new ProblemException(503, 'unhealthy', 'Unhealthy', `Failing check(s): ${failing.join(', ')}`, {
        failing,
        checks: result.details,
      });
    }
  }
}
