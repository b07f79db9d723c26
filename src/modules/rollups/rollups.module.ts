import { Module } from '@nestjs/common';
import { TenantsModule } from '../auth/tenants.module';
import { CostsModule } from '../costs/costs.module';
import { StorageModule } from '../storage/storage.module';
import { RollupService } from './rollup.service';

/** The metric catalog, mergeable sketches and the rollup tables, for both roles. */
@Module({
  imports: [TenantsModule, StorageModule, CostsModule],
  providers: [RollupService],
  exports: [RollupService, StorageModule],
})
export class RollupsModule {}
