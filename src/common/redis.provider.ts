import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import Redis, { RedisOptions } from 'ioredis';
import { AnalyticsConfig } from '../modules/config/analytics-config';

/** ioredis options for a target; `failFast` commands error at once while disconnected. */
export function redisOptions(config: AnalyticsConfig, failFast: boolean): RedisOptions {
  const { host, port, username, password, db, tls } = config.redis;
  return {
    host,
    port,
    username,
    password,
    db,
    tls: tls ? {} : undefined,
    connectTimeout: 5000,
    ...(failFast ? { enableOfflineQueue: false, maxRetriesPerRequest: 1 } : { maxRetriesPerRequest: null }),
    retryStrategy: (times) => Math.min(times * 200, 2000),
  };
}

/** The prefix of BullMQ's keys, for producers, workers and whoever reads a job's key directly. */
export function queuePrefix(config: AnalyticsConfig): string {
  return `${config.redis.prefix}:bull`;
}

/**
 * The service's own Redis connection (dedupe keys, counters). Commands fail fast while Redis is
 * unreachable so that a request is answered 503 at once rather than hanging.
 */
@Injectable()
export class RedisClient extends Redis implements OnApplicationShutdown {
  readonly prefix: string;

  constructor(@Inject(AnalyticsConfig) config: AnalyticsConfig) {
    // Commands of concurrent requests issued in one tick travel in one write (auto-pipelining).
    super({ ...redisOptions(config, true), enableAutoPipelining: true });
    this.prefix = config.redis.prefix;
    this.on('error', () => undefined); // reconnects by itself; health checks report the state
  }

  key(...parts: string[]): string {
    return `${this.prefix}:${parts.join(':')}`;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.quit().catch(() => this.disconnect());
  }
}
