import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import Redis from 'ioredis';
import { RedisClient, redisOptions } from '../../common/redis.provider';
import { PostgresBreaker } from '../../database/postgres-breaker';
import { AnalyticsConfig } from '../config/analytics-config';
import { SchemaRepository } from './schema.repository';
import { SchemaVer } from './schema-ver';
import { PublishedSchema, TenantSchemaSet } from './tenant-schema-set';
import { TenantSchemas } from './tenant-schemas.service';

/**
 * A tenant's schemas kept as one set per name, each compiling its own versions on first use: a
 * publish replaces the set of the name it published, and every other name keeps its compiled
 * validators.
 */
export class NamedSchemaSets extends TenantSchemaSet {
  constructor(readonly sets: ReadonlyMap<string, TenantSchemaSet>) {
    super([...sets.values()].flatMap((s) => s.schemas));
  }

  static of(schemas: PublishedSchema[]): NamedSchemaSets {
    const byName = new Map<string, PublishedSchema[]>();
    for (const s of schemas) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
    return new NamedSchemaSets(new Map([...byName].map(([name, list]) => [name, new TenantSchemaSet(list)])));
  }

  /** This set with one name's versions replaced (none: the name is gone). */
  with(name: string, versions: PublishedSchema[]): NamedSchemaSets {
    const sets = new Map(this.sets);
    if (versions.length) sets.set(name, new TenantSchemaSet(versions));
    else sets.delete(name);
    return new NamedSchemaSets(sets);
  }

  override versions(name: string): PublishedSchema[] {
    return this.sets.get(name)?.versions(name) ?? [];
  }

  override latestEvent(name: string): ReturnType<TenantSchemaSet['latestEvent']> {
    return this.sets.get(name)?.latestEvent(name) ?? null;
  }

  override iglu(name: string, version: SchemaVer): ReturnType<TenantSchemaSet['iglu']> {
    return this.sets.get(name)?.iglu(name, version) ?? null;
  }
}

/** What a publish announces: the tenant and the name it published. */
interface SchemaChange {
  tenant: string;
  name: string;
}

/**
 * Each instance's cache of tenants' published schemas. A publish announces its tenant and name on
 * a Redis channel, and every instance reads that name's versions again and drops only that name's
 * compiled validators; when the subscription reconnects (messages may have been missed) every set
 * is dropped. So a new version is enforced everywhere well within a second, a publish costs one
 * name's read and compilation (not the tenant's whole registry), and validation never waits on
 * Postgres for a tenant already loaded.
 */
@Injectable()
export class SchemaCatalog implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(SchemaCatalog.name);
  private readonly sets = new Map<string, Promise<NamedSchemaSets>>();
  private readonly channel: string;
  private subscriber: Redis | null = null;

  constructor(
    private readonly breaker: PostgresBreaker,
    private readonly schemas: TenantSchemas,
    private readonly repo: SchemaRepository,
    private readonly redis: RedisClient,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
  ) {
    this.channel = redis.key('schemas', 'changed');
  }

  async onModuleInit(): Promise<void> {
    const sub = new Redis({ ...redisOptions(this.config, false), lazyConnect: true });
    sub.on('error', () => undefined);
    sub.on('ready', () => this.sets.clear());
    sub.on('message', (_channel: string, message: string) => {
      const change = parseChange(message);
      if (change) this.invalidate(change.tenant, change.name);
      else this.sets.delete(message); // a bare tenant id: that tenant's whole set
    });
    await sub.connect();
    await sub.subscribe(this.channel);
    this.subscriber = sub;
  }

  onModuleDestroy(): Promise<void> {
    this.subscriber?.disconnect();
    return Promise.resolve();
  }

  forTenant(tenantId: string): Promise<TenantSchemaSet> {
    let set = this.sets.get(tenantId);
    if (!set) {
      set = this.breaker.read(() => this.schemas.load(tenantId)).then((all) => NamedSchemaSets.of(all.schemas));
      this.keep(tenantId, set);
    }
    return set;
  }

  /** Replaces the cached versions of one name, once any load of the tenant in flight has finished. */
  private invalidate(tenantId: string, name: string): void {
    const current = this.sets.get(tenantId);
    if (!current) return;
    this.keep(
      tenantId,
      current.then(async (set) => set.with(name, await this.breaker.read(() => this.repo.forName(tenantId, name)))),
    );
  }

  /** Caches a tenant's set; one that fails to load is dropped, to be read again on next use. */
  private keep(tenantId: string, set: Promise<NamedSchemaSets>): void {
    set.catch(() => {
      if (this.sets.get(tenantId) === set) this.sets.delete(tenantId);
    });
    this.sets.set(tenantId, set);
  }

  /** Reads a tenant's schemas from Postgres, bypassing the cache (replays, listings). */
  async fresh(tenantId: string): Promise<TenantSchemaSet> {
    return this.schemas.load(tenantId);
  }

  /** Tells every instance (this one included) that a tenant published a version of `name`. */
  async announce(tenantId: string, name: string): Promise<void> {
    this.invalidate(tenantId, name);
    await this.redis
      .publish(this.channel, JSON.stringify({ tenant: tenantId, name } satisfies SchemaChange))
      .catch((err: Error) => this.logger.warn(`Could not announce a schema change for ${tenantId}: ${err.message}`));
  }
}

function parseChange(message: string): SchemaChange | null {
  if (!message.startsWith('{')) return null;
  try {
    const m = JSON.parse(message) as Partial<SchemaChange>;
    return typeof m.tenant === 'string' && typeof m.name === 'string' ? { tenant: m.tenant, name: m.name } : null;
  } catch {
    return null;
  }
}
