import { Injectable } from '@nestjs/common';
import { SchemaRepository } from './schema.repository';
import { TenantSchemaSet } from './tenant-schema-set';

/** A tenant's published schemas read from Postgres, compiled (replays, listings, the api's cache). */
@Injectable()
export class TenantSchemas {
  constructor(private readonly repo: SchemaRepository) {}

  async load(tenantId: string): Promise<TenantSchemaSet> {
    return new TenantSchemaSet(await this.repo.forTenant(tenantId));
  }
}
