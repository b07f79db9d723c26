import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckResult,
  HealthCheckService,
  HealthIndicatorFunction,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { ProblemException } from '../../common/problem';
import { Public } from '../auth/auth.decorators';
import { QueueHealthIndicator } from './queue.health';
import { RedisHealthIndicator } from './redis.health';

const CHECK_TIMEOUT_MS = 1500;

const healthy = ApiResponse({
  status: 200,
  description: 'Every check is up',
  schema: {
    example: { status: 'ok', info: { postgres: { status: 'up' } }, error: {}, details: { postgres: { status: 'up' } } },
  },
});
const unhealthy = ApiResponse({
  status: 503,
  description: 'A check is down; `failing` names it and `checks` holds every result',
  content: {
    'application/problem+json': {
      schema: {
        example: {
          type: 'https://analytics.dev/problems/unhealthy',
          title: 'Unhealthy',
          status: 503,
          detail: 'Failing check(s): postgres',
          failing: ['postgres'],
          checks: { postgres: { status: 'down', message: 'connect ECONNREFUSED 127.0.0.1:5432' } },
        },
      },
    },
  },
});

@ApiTags('health')
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
  @ApiOperation({ summary: 'Service health: Postgres, Redis and the ingest queue backlog' })
  @healthy
  @unhealthy
  service(): Promise<HealthCheckResult> {
    return this.run([this.postgresCheck, this.redisCheck, this.queueCheck]);
  }

  @Get('events/health')
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({
    summary: 'Ingestion health: whether events can be accepted now (Redis reachable, backlog under its limit)',
  })
  @healthy
  @unhealthy
  ingestion(): Promise<HealthCheckResult> {
    return this.run([this.redisCheck, this.queueCheck]);
  }

  @Get('health/live')
  @ApiOperation({ summary: 'Liveness probe: the process answers; checks no dependency' })
  @ApiResponse({ status: 200, schema: { example: { status: 'ok' } } })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('health/ready')
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({ summary: 'Readiness probe: Postgres and Redis answer' })
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
