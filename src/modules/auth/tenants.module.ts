import { Module } from '@nestjs/common';
import { AuthRepository } from './auth.repository';

/** The tenants and keys tables, for the roles that read tenant settings without serving requests. */
@Module({
  providers: [AuthRepository],
  exports: [AuthRepository],
})
export class TenantsModule {}
