import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { RedisClient } from '../../common/redis.provider';
import { withDeadline } from './deadline';

@Injectable()
export class RedisHealthIndicator {
  constructor(
    private readonly redis: RedisClient,
    private readonly indicator: HealthIndicatorService,
  ) {}

  async isHealthy(key = 'redis', timeoutMs = 1500) {
    const check = this.indicator.check(key);
    try {
      const started = Date.now();
      await withDeadline(this.redis.ping(), timeoutMs);
      return check.up({ latency_ms: Date.now() - started });
    } catch (err) {
      return check.down({ message: (err as Error).message });
    }
  }
}
