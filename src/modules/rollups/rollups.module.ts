import { Module } from '@nestjs/common';
import { TenantsModule } from '../auth/tenants.module';
import { CostsModule } from '../costs/costs.module';
import { RollupRepository } from './rollup.repository';
import { RollupService } from './rollup.service';

/** The metric catalog, mergeable sketches and the rollup tables, for both roles. */
@Module({
  imports: [TenantsModule, CostsModule],
  providers: [RollupRepository, RollupService],
  exports: [RollupService, RollupRepository],
})
export class RollupsModule {}
