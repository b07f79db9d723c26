import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import Redis from 'ioredis';
import { RedisClient, redisOptions } from '../../common/redis.provider';
import { AnalyticsConfig } from '../config/analytics-config';
import { TenantSchemaSet } from './tenant-schema-set';
import { TenantSchemas } from './tenant-schemas.service';

/**
 * Each instance's cache of tenants' published schemas. A publish announces itself on a Redis
 * channel and every instance drops that tenant's set at once; when the subscription reconnects
 * (messages may have been missed) every set is dropped. So a new version is enforced everywhere
 * well within a second, and validation never waits on Postgres for a tenant already loaded.
 */
@Injectable()
export class SchemaCatalog implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(SchemaCatalog.name);
  private readonly sets = new Map<string, Promise<TenantSchemaSet>>();
  private readonly channel: string;
  private subscriber: Redis | null = null;

  constructor(
    private readonly schemas: TenantSchemas,
    private readonly redis: RedisClient,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
  ) {
    this.channel = redis.key('schemas', 'changed');
  }

  async onModuleInit(): Promise<void> {
    const sub = new Redis({ ...redisOptions(this.config, false), lazyConnect: true });
    sub.on('error', () => undefined);
    sub.on('ready', () => this.sets.clear());
    sub.on('message', (_channel: string, tenantId: string) => this.sets.delete(tenantId));
    await sub.connect();
    await sub.subscribe(this.channel);
    this.subscriber = sub;
  }

  async onModuleDestroy(): Promise<void> {
    this.subscriber?.disconnect();
  }

  forTenant(tenantId: string): Promise<TenantSchemaSet> {
    let set = this.sets.get(tenantId);
    if (!set) {
      set = this.schemas.load(tenantId);
      set.catch(() => this.sets.delete(tenantId));
      this.sets.set(tenantId, set);
    }
    return set;
  }

  /** Reads a tenant's schemas from Postgres, bypassing the cache (replays, listings). */
  async fresh(tenantId: string): Promise<TenantSchemaSet> {
    return this.schemas.load(tenantId);
  }

  /** Tells every instance (this one included) that a tenant's schemas changed. */
  async announce(tenantId: string): Promise<void> {
    this.sets.delete(tenantId);
    await this.redis
      .publish(this.channel, tenantId)
      .catch((err: Error) => this.logger.warn(`Could not announce a schema change for ${tenantId}: ${err.message}`));
  }
}
