import { Module } from '@nestjs/common';
import { AuthRepository } from './auth.repository';
import { TenantAccess } from './tenant-access';

/** The tenants and keys tables, for the roles that read tenant settings without serving requests. */
@Module({
  providers: [AuthRepository, TenantAccess],
  exports: [AuthRepository, TenantAccess],
})
export class TenantsModule {}
