import { Module } from '@nestjs/common';
import { TenantsRepository } from './tenants.repository';
import { TenantAccess } from './tenant-access';

/** The tenants and keys tables, for the roles that read tenant settings without serving requests. */
@Module({
  providers: [TenantsRepository, TenantAccess],
  exports: [TenantsRepository, TenantAccess],
})
export class TenantsModule {}
